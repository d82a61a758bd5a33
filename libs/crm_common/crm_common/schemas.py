"""marshmallow helpers shared by every service: Chinese default messages, a base schema
that refuses unknown fields, reusable validators, and the error-response documentation."""
from __future__ import annotations

import datetime as dt
import decimal
import math
import numbers
import re

import marshmallow as ma
from marshmallow import validate

from .envelopes import ERROR_SCHEMAS, Surface
from .formats import is_mobile_phone, is_phone

_MESSAGES = {
    "required": "该字段为必填项",
    "null": "该字段不能为空",
}
ma.fields.Field.default_error_messages.update(_MESSAGES)
ma.fields.String.default_error_messages.update({"invalid": "应为字符串"})
ma.fields.Integer.default_error_messages.update({"invalid": "应为整数"})
ma.fields.Number.default_error_messages.update({"invalid": "应为数字"})
ma.fields.Decimal.default_error_messages.update({"invalid": "应为数字", "special": "应为有限数字"})
ma.fields.Boolean.default_error_messages.update({"invalid": "应为布尔值"})
ma.fields.Email.default_error_messages.update({"invalid": "邮箱格式不正确"})
ma.fields.Date.default_error_messages.update({"invalid": "日期格式应为 YYYY-MM-DD"})
ma.fields.DateTime.default_error_messages.update({"invalid": "时间格式应为 ISO 8601"})
ma.Schema.error_messages = {"unknown": "未知字段", "type": "请求体格式错误"}



class BaseSchema(ma.Schema):
    class Meta:
        unknown = ma.RAISE
        ordered = True


def mobile_phone(value: str) -> None:
    if not is_mobile_phone(value):
        raise ma.ValidationError("手机号格式不正确，应为 1[3-9] 开头的 11 位数字")


def phone(value: str) -> None:
    """Mobile or landline number (seed 001: 11位手机号或固话格式)."""
    if not is_phone(value):
        raise ma.ValidationError("联系电话格式不正确，应为11位手机号或固话（如 021-12345678）")


def finite(value) -> None:
    try:
        if not math.isfinite(float(value)):
            raise ma.ValidationError("应为有限数字")
    except (TypeError, ValueError) as exc:
        raise ma.ValidationError("应为数字") from exc


def length(min_: int | None = None, max_: int | None = None):
    if min_ and max_:
        msg = f"长度应为 {min_}-{max_} 个字符"
    elif max_:
        msg = f"长度不能超过 {max_} 个字符"
    else:
        msg = f"长度不能少于 {min_} 个字符"
    return validate.Length(min=min_, max=max_, error=msg)


def one_of(choices, label: str | None = None):
    choices = list(choices)
    return validate.OneOf(choices, error=f"{label or '取值'}必须是 {'/'.join(map(str, choices))} 之一")


def in_range(min_=None, max_=None):
    if min_ is not None and max_ is not None:
        msg = f"取值范围为 {min_}-{max_}"
    elif min_ is not None:
        msg = f"不能小于 {min_}"
    else:
        msg = f"不能大于 {max_}"
    return validate.Range(min=min_, max=max_, error=msg)


class Money(ma.fields.Decimal):
    """Decimal in, JSON number out (Flask would render a Decimal as a string)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("places", 2)
        kwargs.setdefault("allow_nan", False)
        super().__init__(**kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        value = super()._serialize(value, attr, obj, **kwargs)
        number = float(value)
        return int(number) if number.is_integer() else number


class ExactMoney(Money):
    """Money as a client sends it: a value with more decimals than ``places`` is refused
    (400 naming the field), never rounded ("0.125" is not 0.12 nor 0.13)."""

    default_error_messages = {"too_precise": "金额最多保留 {places} 位小数"}

    def _format_num(self, value):
        try:
            number = decimal.Decimal(str(value))
        except (decimal.InvalidOperation, TypeError, ValueError):
            return super()._format_num(value)
        if number.is_finite() and self.places is not None and number != number.quantize(self.places):
            raise self.make_error("too_precise", places=-self.places.as_tuple().exponent)
        return super()._format_num(value)


class IsoDateTime(ma.fields.DateTime):
    """UTC timestamps rendered with a ``Z``."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def document_errors(blp, surface: Surface, *statuses: int):
    """Declare the error responses of a view in the OpenAPI document."""
    schema = ERROR_SCHEMAS[surface]

    def decorator(func):
        for status in statuses:
            func = blp.alt_response(status, schema=schema, description=_DESCRIPTIONS.get(status))(func)
        return func
    return decorator


_DESCRIPTIONS = {
    400: "Invalid input: `errors` lists the failing fields", 401: "Missing, expired or forged token",
    403: "Role, factory or business domain not allowed", 404: "Not found (or another tenant's)",
    409: "Conflicts with existing data", 412: "Stale If-Match version", 413: "Body too large",
    422: "Idempotency key reused with another body", 429: "Rate limited", 503: "Dependency unavailable",
}


class WholeNumber(ma.fields.Integer):
    """An integer given as a JSON number (``12`` or ``12.0``) or a digit string; refuses
    ``1.5`` and booleans instead of truncating them."""

    default_error_messages = {"invalid": "应为整数"}
    _DIGITS = re.compile(r"\s*-?\d{1,19}\s*")

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, numbers.Number):
            if isinstance(value, float) and not value.is_integer():
                raise self.make_error("invalid")
            return int(value)
        if isinstance(value, str) and self._DIGITS.fullmatch(value):
            return int(value)
        raise self.make_error("invalid")


class CalendarDate(ma.fields.Date):
    """A real calendar date written exactly ``YYYY-MM-DD``."""

    default_error_messages = {"invalid": "日期格式应为 YYYY-MM-DD，且为有效日期"}
    _SHAPE = re.compile(r"\d{4}-\d{2}-\d{2}")

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not self._SHAPE.fullmatch(value):
            raise self.make_error("invalid")
        try:
            return dt.date.fromisoformat(value)
        except ValueError as exc:
            raise self.make_error("invalid") from exc
