"""The Flask pieces every service shares: the app factory base (flask-smorest ``Api``),
trace ids, token checks, the per-surface error handler, health/readiness, metrics and the
request context (principal, tenant, business domains)."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Callable

import flask
import flask_smorest
import marshmallow as ma
import sqlalchemy as sa
from flask import Blueprint as FlaskBlueprint
from flask import Flask, Response, current_app, g, jsonify, request, send_file
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from webargs.core import missing
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.exceptions import BadRequest as BadRequestError
from werkzeug.exceptions import HTTPException

from . import auth, authz, inputs, logs
from .config import Settings
from .context import RequestContext
from .envelopes import Surface, error_body, ok, surface_for_path
from .errors import AppError, Forbidden, NotFound, Unauthorized
from .jwks import verifier_from_settings
from .metrics import install_request_metrics
from .release import UNKNOWN, commit_of


class ArgumentsParser(FlaskParser):
    """webargs' parser, reading JSON bodies through ``crm_common.inputs.loads`` (NUL, lone
    surrogates, deep nesting, absurd integers: 400 naming the field) and only once per
    request. Invalid arguments are 400 (documented as such), as every error of ours."""

    DEFAULT_VALIDATION_STATUS = 400

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return missing
        cached = getattr(req, "_crm_json", missing)
        if cached is not missing:
            return cached
        data = req.get_data(cache=True)
        if not data.strip():
            raise json.JSONDecodeError("empty body", "", 0)  # webargs: no body is "missing"
        try:
            req._crm_json = inputs.loads(data)
        except inputs.InvalidInput as exc:
            inputs.refuse(exc.errors)
        return req._crm_json


class Blueprint(flask_smorest.Blueprint):
    """flask-smorest's Blueprint, except that a schema class given to ``arguments`` is
    instantiated once, at import, instead of by webargs on every request (measured: about
    10 % of a small write's CPU), and that bodies are read by ``ArgumentsParser``."""

    ARGUMENTS_PARSER = ArgumentsParser()

    def arguments(self, schema, *args, **kwargs):
        if isinstance(schema, type):
            schema = schema()
        return super().arguments(schema, *args, **kwargs)


# Paths that need no token wherever they are served (CONTRACT §3): the gateway forwards
# the token issuer's endpoints without one. The dashboard's static files are ``@public``
# views (gateway.dashboard); "/dashboard" itself only redirects to "/dashboard/".
PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/oauth/token", "/.well-known/jwks.json", "/dashboard")
PUBLIC_PREFIXES = ("/docs",)

log = logs.get_logger("crm.web")


def create_base_app(settings: Settings, *, title: str, description: str = "",
                    version: str = "1.0.0", serve_docs: bool = True,
                    forwards_bodies: bool = False, release: str | None = None) -> tuple[Flask, Api]:
    """A Flask app with everything but the service's own blueprints.

    ``forwards_bodies=True`` (the gateway): request bodies are streamed upstream unread.

    ``release`` is the package's own ``__version__`` (``/healthz`` reports it with the commit).

    ``serve_docs=False`` leaves ``/openapi.json`` and ``/docs`` to the app itself (the
    gateway serves a document merged from every service); ``api.spec`` still describes
    the app's own blueprints."""
    logs.configure_logging(settings.service, settings.log_level)
    app = Flask(settings.service, static_folder=None)  # no implicit, undeclared /static route
    app.request_class = Request
    app.json = JSONProvider(app)
    app.url_map.converters["int"] = inputs.BoundedIntegerConverter
    app.config.update(
        CRM_RELEASE=release,
        API_TITLE=title,
        API_VERSION=version,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/" if serve_docs else None,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "security": [{"bearerAuth": []}],
            "components": {"securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        },
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    app.extensions["crm_settings"] = settings
    app.extensions["crm_ready_checks"] = []
    api = Api(app)
    api.ma_plugin.converter.add_attribute_function(typed_nullable_reference)
    install_tracing(app)
    install_request_line_limit(app)  # before the token check, as the HTTP server's own limit would be
    install_auth(app)
    install_input_checks(app, read_bodies=not forwards_bodies)
    install_error_handlers(app)
    install_request_metrics(app, settings.service)
    api.register_blueprint(ops_blueprint())
    if serve_docs:
        app.register_blueprint(docs_blueprint(title))
    return app, api


_ANY_NULL = {"type": "object", "nullable": True}


def typed_nullable_reference(converter, field, ret, **kwargs) -> dict:
    """A nullable nested schema documented as ``allOf: [{$ref}], nullable: true``.

    apispec writes OpenAPI 3.0 ``Nested(..., allow_none=True)`` as ``anyOf: [{"type":
    "object", "nullable": true}, {"$ref": ...}]``: the first branch (any object) swallows
    the typed one, and generated clients hand back an untyped dictionary instead of the
    model (issue 22). ``allOf`` with the one ``$ref`` plus ``nullable`` keeps the type.

    A nullable choice (``enum: ["vip", ..., null]``) becomes ``oneOf: [{"type", "enum"
    without null}], nullable: true``: generators then make one enum class and ``| None``
    instead of three copies of the enum."""
    if not field.allow_none:
        return {}
    any_of = ret.get("anyOf")
    if isinstance(any_of, list) and _ANY_NULL in any_of:
        del ret["anyOf"]
        return {"allOf": [branch for branch in any_of if branch != _ANY_NULL], "nullable": True}
    choices = ret.get("enum")
    if isinstance(choices, list) and None in choices:
        branch = {"type": ret.pop("type")} if "type" in ret else {}
        branch["enum"] = [choice for choice in ret.pop("enum") if choice is not None]
        return {"oneOf": [branch], "nullable": True}
    return {}


def finish_app(app: Flask) -> Flask:
    """Last step of every app factory, once its blueprints are registered: refuse a route
    that declares no permission (crm_common.authz, deny by default), and declare in the
    OpenAPI document the headers every operation understands."""
    authz.verify_app(app)
    for entry in app.extensions.get("flask-smorest", {}).get("apis", {}).values():
        declare_common_headers(entry["ext_obj"].spec)
        document_default_errors(entry["ext_obj"])
    return app


DEFAULT_ERROR_RESPONSES = {Surface.V1: "V1DefaultError", Surface.MOBILE: "MobileDefaultError",
                           Surface.EXTERNAL: "ExternalDefaultError"}


def document_default_errors(api: Api) -> None:
    """The ``default`` response of every ``/api/`` and ``/internal/`` operation in its surface's error envelope
    (``V1Error``, ``MobileError``, ``ExternalError``). flask-smorest's own default,
    ``Error`` ``{code, status, message, errors}``, is a shape no service answers: a
    generated client would parse an undocumented error status into the wrong model."""
    from .envelopes import ERROR_SCHEMAS

    spec = api.spec
    for path, item in spec._paths.items():
        if not path.startswith(("/api/", "/internal/")):
            continue  # the issuer's RFC 6749/7517 endpoints and the probes have shapes of their own
        surface = surface_for_path(path)  # /internal/ calls answer in the /api/v1 envelope
        name = DEFAULT_ERROR_RESPONSES[surface]
        for method, operation in item.items():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if method not in ("get", "post", "put", "patch", "delete") or not responses or "default" not in responses:
                continue
            if name not in spec.components.responses:
                schema = api.ma_plugin.converter.resolve_nested_schema(ERROR_SCHEMAS[surface])
                spec.components.response(name, {
                    "description": "Any other error, in this surface's error envelope",
                    "content": {"application/json": {"schema": schema}}})
            responses["default"] = {"$ref": f"#/components/responses/{name}"}


COMMON_HEADERS = {
    "XFactoryId": {"in": "header", "name": "X-Factory-Id", "required": False, "schema": {"type": "string", "maxLength": 64},
                   "example": "F001",
                   "description": "Tenant (factory) of the request when the path does not name one; default: the "
                                  "token's only factory (CONTRACT §3). A factory the token lacks is 403."},
    "XRequestId": {"in": "header", "name": "X-Request-ID", "required": False, "schema": {"type": "string", "maxLength": 128},
                   "description": "Your id for this request; answered as `X-Trace-Id` and carried into every log "
                                  "line and event the request causes (a new id when absent or not sane)."},
    "IfMatch": {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"}, "example": '"7"',
                "description": "The `ETag` you read (`\"<version>\"`): the change applies only to that version, "
                               "else 412."},
}


def declare_common_headers(spec) -> None:
    """``X-Request-ID`` on every operation that needs a token, ``X-Factory-Id`` where the
    path names no tenant (/api/v1, /api/external), ``If-Match`` where an operation can
    answer 412: declared parameters, so generated clients and "Try it out" can send them."""
    for name, parameter in COMMON_HEADERS.items():
        if name not in spec.components.parameters:
            spec.components.parameter(name, parameter["in"], {k: v for k, v in parameter.items() if k != "in"})
    for path, item in spec._paths.items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete") or operation.get("x-permission") in (
                    authz.PUBLIC, None):
                continue
            params = operation.setdefault("parameters", [])
            declared = {p.get("name", p.get("$ref", "")).lower() for p in params}

            def add(component: str) -> None:
                header = COMMON_HEADERS[component]["name"].lower()
                if header not in declared and f"#/components/parameters/{component}".lower() not in declared:
                    params.append({"$ref": f"#/components/parameters/{component}"})

            add("XRequestId")
            if path.startswith(("/api/v1/", "/api/external/")) or path in ("/api/v1", "/api/external"):
                add("XFactoryId")
            if "412" in operation.get("responses", {}):
                add("IfMatch")


def settings_of(app: Flask | None = None) -> Settings:
    return (app or current_app).extensions["crm_settings"]


# --- input that can never be valid (crm_common.inputs) --------------------------------------

class Request(flask.Request):
    def on_json_loading_failed(self, e):
        if isinstance(e, inputs.InvalidInput):
            inputs.refuse(e.errors)
        raise BadRequestError("请求体不是有效的 JSON")


class JSONProvider(DefaultJSONProvider):
    """``request.get_json()`` reads bodies through ``crm_common.inputs.loads`` too."""

    def loads(self, s, **kwargs):
        return inputs.loads(s)


MAX_REQUEST_TARGET = 8190  # bytes of path + query, gunicorn's own default limit for the request line


class UriTooLong(AppError):
    status = 414
    default_message = "请求地址过长"


def install_request_line_limit(app: Flask) -> None:
    @app.before_request
    def _refuse_long_request_lines():
        target = request.environ.get("RAW_URI") or request.full_path
        if len(target) > MAX_REQUEST_TARGET:
            raise UriTooLong()


def install_input_checks(app: Flask, *, read_bodies: bool = True) -> None:
    """``read_bodies=False`` for a proxy: a form body read here would be gone from the
    stream it forwards (the upstream checks its own body)."""
    @app.before_request
    def _refuse_unstorable_text():
        pairs = list(request.args.items(multi=True))
        pairs += [(k, v) for k, v in (request.view_args or {}).items() if isinstance(v, str)]
        if read_bodies and request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            pairs += list(request.form.items(multi=True))
        inputs.refuse(inputs.check_pairs(pairs))


# --- trace ids -----------------------------------------------------------------------------

def install_tracing(app: Flask) -> None:
    @app.before_request
    def _bind_trace():
        trace_id = (logs.sane_trace_id(request.headers.get("X-Request-ID"))
                    or logs.sane_trace_id(request.headers.get("X-Trace-Id"))
                    or logs.new_trace_id())
        g.trace_id = trace_id
        g.started = time.perf_counter()
        logs.bind_trace(trace_id, method=request.method, path=request.path)

    @app.after_request
    def _trace_header(response: Response):
        trace_id = getattr(g, "trace_id", None)
        if trace_id:
            response.headers["X-Trace-Id"] = trace_id
        if request.path not in ("/healthz", "/readyz", "/metrics"):
            log.info("request", status=response.status_code,
                     duration_ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2))
        return response


# --- tokens ---------------------------------------------------------------------------------

def is_public_path(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def install_auth(app: Flask) -> None:
    """Token first (401), then the permission the matched view declares (403), before the
    view's arguments are even parsed: a forbidden caller learns nothing from validation.
    Tokens are verified by ``crm_common.auth.TokenVerifier`` (the issuer's JWKS and
    revocation list, or HS256 where allowed), once per process each: ``TokenCache``
    remembers them until they expire (``TOKEN_CACHE_SIZE`` tokens, default 4096)."""
    settings = settings_of(app)
    verifier = auth.TokenCache(verifier_from_settings(settings), size=settings.get_int("TOKEN_CACHE_SIZE", 4096))
    app.extensions["crm_token_verifier"] = verifier

    @app.before_request
    def _check_token():
        if request.method == "OPTIONS":
            return None
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        permission = authz.PUBLIC if request.endpoint in authz.PUBLIC_ENDPOINTS \
            else authz.permission_of(view, request.method)
        if permission == authz.PUBLIC or (permission in (None, authz.AUTHENTICATED)
                                          and is_public_path(request.path)):
            return None
        token = auth.bearer_token(request.headers.get("Authorization"))
        principal = verifier.verify(token)
        g.principal = principal
        logs.bind(sub=principal.sub)
        if view is None:
            return None  # no such route: the 404 (or 405) follows, after the token check
        if permission is None:
            log.error("route_without_permission", endpoint=request.endpoint, method=request.method)
            raise Forbidden("接口未声明访问权限，拒绝访问")
        if not authz.allows(permission, principal.roles):
            raise Forbidden("权限不足：需要角色 " + "/".join(sorted(authz.roles_for(permission))))
        return None


def current_principal() -> auth.Principal:
    principal = g.get("principal")
    if principal is None:
        raise Unauthorized()
    return principal


def require_permission(permission: str) -> auth.Principal:
    """403 unless the caller holds ``permission`` (for a rule finer than the route's own
    declaration, e.g. one field of a body that only some roles may set)."""
    principal = current_principal()
    if not authz.allows(permission, principal.roles):
        raise Forbidden("权限不足：需要角色 " + "/".join(sorted(authz.roles_for(permission))))
    return principal


def request_context(path_factory: str | None = None) -> RequestContext:
    """Principal, tenant and business-domain scope of the current request."""
    cached = g.get("crm_context")
    if cached is not None and (path_factory is None or cached.factory_id == path_factory):
        return cached
    principal = current_principal()
    settings = settings_of()
    factory = auth.resolve_factory(principal, path_factory=path_factory,
                                   header_factory=request.headers.get("X-Factory-Id"))
    scope = auth.domain_scope(principal, settings.domain_mapping)
    logs.bind(factory_id=factory)
    if scope.chain and (principal.positions or principal.departments or not scope.everything):
        log.info("domain_mapping", chain=list(scope.chain),
                 domains="*" if scope.everything else sorted(scope.codes))
    ctx = RequestContext(principal, factory, scope, g.get("trace_id"))
    g.crm_context = ctx
    return ctx


# --- responses and errors -------------------------------------------------------------------

def reply(data=None, message: str | None = None, status: int = 200, headers: dict | None = None):
    """The success envelope of the request's surface (the one place views build it)."""
    body = ok(surface_for_path(request.path), data, message, status)
    return (body, status, headers) if headers else (body, status)


def error_response(status: int, message: str, errors: dict | None = None,
                   error_code: str | None = None, headers: dict | None = None,
                   path: str | None = None) -> Response:
    surface = surface_for_path(path if path is not None else request.path)
    resp = jsonify(error_body(surface, status, message, errors, error_code))
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def flatten_messages(messages, prefix: str = "") -> dict[str, list[str]]:
    """webargs/marshmallow nested messages -> ``{"customer.name": ["..."]}``."""
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, dict):
                out.update(flatten_messages(value, name))
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for i, item in enumerate(value):
                    out.update(flatten_messages(item, f"{name}.{i}"))
            else:
                out[name] = [str(v) for v in (value if isinstance(value, list) else [value])]
    elif isinstance(messages, list):
        out[prefix or "_schema"] = [str(m) for m in messages]
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out


def validation_message(errors: dict[str, list[str]]) -> str:
    """The message of a 400 for invalid fields: the seed texts (请求参数错误) on /api/v1 and
    /api/mobile; on /api/external (seed 002: a 400 naming the bad field) it names each one."""
    if surface_for_path(request.path) is not Surface.EXTERNAL:
        return "请求参数错误"
    summary = "；".join(f"{name}: {msgs[0]}" for name, msgs in errors.items() if msgs)
    return f"参数验证失败：{summary}" if summary else "参数验证失败"


_HTTP_MESSAGES = {
    400: "请求参数错误", 401: "未认证或令牌无效", 403: "权限不足", 404: "资源不存在",
    405: "请求方法不被允许", 409: "资源冲突", 412: "资源已被修改，请刷新后重试",
    413: "请求体过大", 415: "不支持的内容类型", 422: "请求无法处理", 428: "缺少前置条件",
    429: "请求过于频繁，请稍后再试", 500: "服务器内部错误",
}


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError):
        if exc.status >= 500:
            log.error("app_error", status=exc.status, message=exc.message)
        return error_response(exc.status, exc.message, exc.errors, exc.error_code, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        status = exc.code or 500
        data = getattr(exc, "data", None) or {}
        messages = data.get("messages") if isinstance(data, dict) else None
        if status in (400, 422) and messages is not None:
            # Argument parsing (webargs): one field list, whatever the location.
            errors: dict[str, list[str]] = {}
            for location_messages in messages.values():
                errors.update(flatten_messages(location_messages))
            return error_response(400, validation_message(errors), errors)
        return error_response(status, _HTTP_MESSAGES.get(status, exc.description or exc.name))

    @app.errorhandler(ma.ValidationError)
    def _ma_error(exc: ma.ValidationError):
        errors = flatten_messages(exc.messages)
        return error_response(400, validation_message(errors), errors)

    @app.errorhandler(sa.exc.DataError)
    def _data_error(exc: sa.exc.DataError):
        # A value the database cannot hold (a number past its column's range, text it
        # cannot store) that slipped through validation: the caller's input, not a crash.
        log.warning("database_refused_value", error=str(getattr(exc, "orig", exc)).splitlines()[0][:200])
        return error_response(400, "请求参数超出允许范围", error_code="VALUE_OUT_OF_RANGE")

    @app.errorhandler(sa.exc.OperationalError)
    @app.errorhandler(sa.exc.InterfaceError)
    @app.errorhandler(sa.exc.TimeoutError)
    def _database_unavailable(exc: Exception):
        # Our database is down or restarting: a retryable 503, never a 500. The pool's
        # pre-ping hands the first request after it is back a fresh connection.
        log.warning("database_unavailable", error=type(exc).__name__)
        return error_response(503, "数据库暂不可用，请稍后重试", error_code="DATABASE_UNAVAILABLE",
                              headers={"Retry-After": "2"})

    @app.errorhandler(Exception)
    def _unhandled(exc: Exception):
        log.exception("unhandled_error", error=type(exc).__name__)
        return error_response(500, "服务器内部错误")


# --- health, readiness, metrics -------------------------------------------------------------

ReadyCheck = Callable[[], tuple[bool, object]]


def add_ready_check(app: Flask, name: str, check: ReadyCheck, *, critical: bool = True) -> None:
    """``check()`` -> (ok, detail). Critical checks decide 200/503; others are reported."""
    app.extensions["crm_ready_checks"].append((name, check, critical))


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    service = ma.fields.String(metadata={"example": "customer"})
    version = ma.fields.String(metadata={"description": "the package's version (its __version__)",
                                         "example": "1.0.0"})
    commit = ma.fields.String(metadata={"description": "the commit the process was built from (GIT_COMMIT, "
                                                       "else git in a checkout), or \"unknown\"",
                                        "example": "bc429f4a1e2d"})


class ReadySchema(ma.Schema):
    status = ma.fields.String()
    service = ma.fields.String()
    checks = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw())


def ops_blueprint() -> Blueprint:
    blp = Blueprint("ops", __name__, description="Liveness and readiness (no token needed)")

    @blp.route("/healthz")
    @blp.doc(operationId="checkHealth")
    @blp.response(200, HealthSchema)
    @blp.doc(security=[])
    @authz.public
    def healthz():
        """Process alive, with its package's version and the commit it was built from."""
        return {"status": "ok", "service": settings_of().service,
                "version": current_app.config.get("CRM_RELEASE") or UNKNOWN, "commit": commit_of()}

    @blp.route("/readyz")
    @blp.doc(operationId="checkReadiness")
    @blp.response(200, ReadySchema)
    @blp.alt_response(503, schema=ReadySchema, description="A critical dependency is down")
    @blp.doc(security=[])
    @authz.public
    def readyz():
        """200 when the service can serve (its database reachable); other dependencies,
        such as the broker, are reported without failing readiness."""
        checks, ready = {}, True
        for name, check, critical in current_app.extensions["crm_ready_checks"]:
            try:
                passed, detail = check()
            except Exception as exc:  # noqa: BLE001
                passed, detail = False, type(exc).__name__
            checks[name] = {"ok": passed, "detail": detail, "critical": critical}
            ready = ready and (passed or not critical)
        body = {"status": "ready" if ready else "unavailable", "service": settings_of().service,
                "checks": checks}
        return body, (200 if ready else 503)

    return blp


# --- interactive docs, served from our own files -------------------------------------------

SWAGGER_UI_DIR = Path(__file__).parent / "swagger_ui"
DOCS_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
               "swagger-init.js": "text/javascript"}
DOCS_PAGE = """<!doctype html>
<html lang="zh-CN">
<head>
  <meta charset="utf-8">
  <title>{title}</title>
  <link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui" data-spec-url="{spec_url}"></div>
  <script src="/docs/assets/swagger-ui-bundle.js"></script>
  <script src="/docs/assets/swagger-init.js"></script>
</body>
</html>
"""
# Everything the page loads comes from this origin (no CDN, no validator badge).
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "script-src 'self'; connect-src 'self'; frame-ancestors 'none'")


def docs_blueprint(title: str, spec_url: str = "/openapi.json") -> FlaskBlueprint:
    """``/docs``: Swagger UI (swagger-ui-dist, vendored at a pinned version by
    scripts/vendor-swagger-ui.sh) over ``spec_url``; assets under ``/docs/assets/``."""
    blp = FlaskBlueprint("crm_docs", __name__)
    page = DOCS_PAGE.format(title=html.escape(title), spec_url=html.escape(spec_url))

    @blp.route("/docs")
    @authz.public
    def docs_page():
        resp = Response(page, mimetype="text/html")
        resp.headers["Content-Security-Policy"] = DOCS_CSP
        return resp

    @blp.route("/docs/assets/<name>")
    @authz.public
    def docs_asset(name: str):
        if name not in DOCS_ASSETS:
            raise NotFound("文档资源不存在")
        resp = send_file(SWAGGER_UI_DIR / name, mimetype=DOCS_ASSETS[name], max_age=86400, conditional=True)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        return resp

    return blp


# --- optimistic concurrency ---------------------------------------------------------------------

def etag_for(version: int) -> str:
    return f'"{int(version)}"'


def if_match_version() -> int | None:
    """The version named by ``If-Match`` (``"7"`` or ``W/"7"``); ``None`` when absent or ``*``."""
    raw = request.headers.get("If-Match")
    if not raw or raw.strip() == "*":
        return None
    value = raw.strip().removeprefix("W/").strip('"')
    try:
        return int(value)
    except ValueError:
        return -1  # matches nothing: 412

