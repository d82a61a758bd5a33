"""How the external integrator API (seed 002) words refusals: about the ``userId`` the
integrator sent, with its field names (``userId``, ``phone``, ``status``...)."""
from __future__ import annotations

from ..wording import Say, Wording, field_names
from .schemas import ExternalCustomerSchema

EXTERNAL = Wording({
    "CUSTOMER_NOT_FOUND": Say("该 userId 的客户不存在或无权访问"),
    "CUSTOMER_DELETED": Say("该 userId 对应的客户已被删除"),
    "CUSTOMER_USER_ID_TAKEN": Say("该 userId 的客户已存在"),
}, fields=field_names(ExternalCustomerSchema))
