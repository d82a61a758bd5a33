"""The three response envelopes of CONTRACT §4, built in one place.

``surface_for_path`` decides which envelope a path uses (the gateway and every service use
it for their own errors); ``ok`` / ``error_body`` build bodies; ``envelope_schema`` wraps a
marshmallow schema so that the OpenAPI document shows the real response shape.
"""
from __future__ import annotations

import enum
from functools import lru_cache

import marshmallow as ma


class Surface(str, enum.Enum):
    V1 = "v1"              # /api/v1/...        {"success", "code", "message", "data"}
    MOBILE = "mobile"      # /api/mobile/...    {"code", "message", "data"}
    EXTERNAL = "external"  # /api/external/...  {"success", "data", "message"}


V1_OK_MESSAGE = "操作成功"
V1_PARTIAL_MESSAGE = "部分操作成功"


def surface_for_path(path: str) -> Surface:
    if path.startswith("/api/mobile/"):
        return Surface.MOBILE
    if path.startswith("/api/external"):
        return Surface.EXTERNAL
    return Surface.V1


def v1_code(status: int, partial: bool = False) -> int:
    if partial or status == 207:
        return 2070
    return 2000 if status < 300 else status * 10


def ok(surface: Surface, data=None, message: str | None = None, status: int = 200) -> dict:
    """A success body. ``status`` only matters for /api/v1 (207 -> code 2070)."""
    if surface is Surface.V1:
        partial = status == 207
        return {"success": True, "code": v1_code(status, partial),
                "message": message or (V1_PARTIAL_MESSAGE if partial else V1_OK_MESSAGE),
                "data": data}
    if surface is Surface.MOBILE:
        return {"code": status, "message": message, "data": data}
    return {"success": True, "data": data, "message": message or "操作成功"}


def error_body(surface: Surface, status: int, message: str, errors: dict | None = None,
               error_code: str | None = None, data=None) -> dict:
    if surface is Surface.V1:
        body = {"success": False, "code": status * 10, "message": message}
        if error_code:
            body["error_code"] = error_code
        if errors:
            body["errors"] = errors
        if data is not None:
            body["data"] = data
        return body
    if surface is Surface.MOBILE:
        body = {"code": status, "message": message, "data": data}
        if errors:
            body["errors"] = errors
        if error_code:
            body["errorCode"] = error_code
        return body
    body = {"success": False, "error": error_code or _EXTERNAL_ERROR.get(status, "error"),
            "message": message}
    if errors:
        body["errors"] = errors
    return body


_EXTERNAL_ERROR = {
    400: "VALIDATION_ERROR", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
    409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 422: "UNPROCESSABLE", 429: "RATE_LIMITED",
    500: "INTERNAL_ERROR", 502: "BAD_GATEWAY", 503: "SERVICE_UNAVAILABLE", 504: "GATEWAY_TIMEOUT",
}


# --- OpenAPI: schemas of the envelopes -------------------------------------------------

class _Any(ma.fields.Raw):
    pass


@lru_cache(maxsize=None)
def envelope_schema(surface: Surface, data_schema: type[ma.Schema] | None = None,
                    many: bool = False) -> type[ma.Schema]:
    """``V1Envelope(CustomerSchema)`` etc.: the schema class documenting and dumping the
    envelope around ``data``. Views return the dict built by ``ok``."""
    if data_schema is None:
        data_field = _Any(allow_none=True)
        data_name = "Any"
    else:
        data_field = ma.fields.Nested(data_schema, many=many, allow_none=True)
        data_name = data_schema.__name__.removesuffix("Schema") + ("List" if many else "")
    attrs: dict = {}
    if surface is Surface.V1:
        attrs.update(success=ma.fields.Boolean(), code=ma.fields.Integer(),
                     message=ma.fields.String(allow_none=True), data=data_field)
    elif surface is Surface.MOBILE:
        attrs.update(code=ma.fields.Integer(), message=ma.fields.String(allow_none=True), data=data_field)
    else:
        attrs.update(success=ma.fields.Boolean(), data=data_field, message=ma.fields.String(allow_none=True))
    name = f"{surface.value.capitalize()}{data_name}Envelope"
    return type(name, (ma.Schema,), attrs)


class V1ErrorSchema(ma.Schema):
    success = ma.fields.Boolean()
    code = ma.fields.Integer()
    message = ma.fields.String()
    error_code = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))


class MobileErrorSchema(ma.Schema):
    code = ma.fields.Integer()
    message = ma.fields.String()
    data = _Any(allow_none=True)
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    errorCode = ma.fields.String()  # error_body sends it whenever an error names its code


class ExternalErrorSchema(ma.Schema):
    success = ma.fields.Boolean()
    error = ma.fields.String()
    message = ma.fields.String()
    errors = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))


ERROR_SCHEMAS = {Surface.V1: V1ErrorSchema, Surface.MOBILE: MobileErrorSchema,
                 Surface.EXTERNAL: ExternalErrorSchema}
