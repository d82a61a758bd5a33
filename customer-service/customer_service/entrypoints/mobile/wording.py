"""How the tenant API (seed 001) words refusals: its own messages (the amount owed, the
status a customer is in, the code or name taken with its value), 400 for a taken code or
name as the seed answers it, and camelCase field names."""
from __future__ import annotations

from ...domain import rules
from ..wording import Say, Wording
from .schemas import FIELD_NAMES, money_text


def _taken(what: str, value_param: str, earlier_is: str = "项"):
    def message(refusal) -> str:
        value = refusal.params.get(value_param)
        earlier = refusal.params.get("earlier")
        if earlier is not None:
            return f"与第 {earlier} {earlier_is}的{what}重复: {value}"
        return f"{what}已存在: {value}"
    return message


def _not_enabled(refusal) -> str:
    label = rules.STATUS_LABELS.get(refusal.params.get("current"), refusal.params.get("current"))
    return f"客户当前为{label}状态，不能直接启用"


def _finance(refusal) -> str:
    what = "设置期初余额" if refusal.field == "current_balance" else "修改信用额度"
    return f"{what}需要工厂管理员或财务管理员权限"


MOBILE = Wording({
    "CUSTOMER_CODE_TAKEN": Say(_taken("客户代码", "code"), status=400, code="CUSTOMER_CODE_EXISTS"),
    "CUSTOMER_NAME_TAKEN": Say(_taken("客户名称", "name"), status=400, code="CUSTOMER_NAME_EXISTS"),
    "CUSTOMER_HAS_DEBT": Say(lambda r: f"客户存在欠款 {money_text(r.params['amount'])} 元，不能删除，请先结清欠款"),
    "STATUS_TRANSITION_NOT_ALLOWED": Say(_not_enabled),
    "FINANCE_ROLE_REQUIRED": Say(_finance),
}, fields=FIELD_NAMES)

# Rows of an Excel import: an earlier row of the same sheet is named by its row number.
MOBILE_ROWS = MOBILE.but({
    "CUSTOMER_CODE_TAKEN": Say(_taken("客户代码", "code", "行"), status=400, code="CUSTOMER_CODE_EXISTS"),
    "CUSTOMER_NAME_TAKEN": Say(_taken("客户名称", "name", "行"), status=400, code="CUSTOMER_NAME_EXISTS"),
})
