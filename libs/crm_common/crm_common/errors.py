"""Errors every layer may raise. Pure Python: the domain and service layers use them
without knowing about Flask; ``crm_common.web`` renders them in the surface's envelope."""
from __future__ import annotations


class AppError(Exception):
    status = 500
    default_message = "服务器内部错误"

    def __init__(self, message: str | None = None, *, errors: dict | None = None,
                 error_code: str | None = None, headers: dict | None = None):
        super().__init__(message or self.default_message)
        self.message = message or self.default_message
        self.errors = errors
        self.error_code = error_code
        self.headers = headers or {}


class BadRequest(AppError):
    status = 400
    default_message = "请求参数错误"


class ValidationError(BadRequest):
    """Field-level validation failure: ``errors`` maps field -> [messages]."""


class Unauthorized(AppError):
    status = 401
    default_message = "未认证或令牌无效"


class Forbidden(AppError):
    status = 403
    default_message = "权限不足"

    def __init__(self, message: str | None = None, **kw):
        kw.setdefault("error_code", "FORBIDDEN")
        super().__init__(message, **kw)


class NotFound(AppError):
    status = 404
    default_message = "资源不存在"


class Conflict(AppError):
    status = 409
    default_message = "资源冲突"


class PreconditionFailed(AppError):
    status = 412
    default_message = "资源已被修改，请刷新后重试"


class PayloadTooLarge(AppError):
    status = 413
    default_message = "请求体过大"


class Unprocessable(AppError):
    status = 422
    default_message = "请求无法处理"


class TooManyRequests(AppError):
    status = 429
    default_message = "请求过于频繁，请稍后再试"


class BadGateway(AppError):
    status = 502
    default_message = "上游服务不可用"


class ServiceUnavailable(AppError):
    status = 503
    default_message = "服务暂不可用，请稍后重试"


class GatewayTimeout(AppError):
    status = 504
    default_message = "上游服务超时"
