"""The customer sheet of seed 001 §6 as data: which columns the import template, the
import and the export share, and how one spreadsheet row becomes a create request.
Pure functions (no openpyxl, no database): cells arrive as plain Python values.

The export writes every importable column, so an exported file imported into another
factory reproduces the same customers; computed columns (可用额度, 累计订单数, 累计营收)
are recognised on import and ignored."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Sequence

from . import rules

MAX_IMPORT_ROWS = 10_000
MAX_IMPORT_COLUMNS = 40  # cells read per row; a sheet wider than this is cut, not parsed
MAX_CELL_CHARS = 2_000

TEXT, INTEGER, MONEY, BOOLEAN = "text", "integer", "money", "boolean"
TRUE_WORDS = frozenset({"是", "启用", "活跃", "true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"否", "停用", "禁用", "false", "no", "n", "0"})
INDUSTRIES = ("餐饮", "零售", "批发", "食品加工", "商超", "电商", "酒店", "其他")


@dataclass(frozen=True)
class Column:
    header: str           # the sheet's header cell
    field: str            # the create-request field (camelCase, seed 001)
    kind: str = TEXT
    required: bool = False
    importable: bool = True
    explanation: str = ""
    width: int = 14


COLUMNS: tuple[Column, ...] = (
    Column("客户名称", "name", required=True, width=24, explanation="1-100 个字符，工厂内唯一"),
    Column("客户代码", "customerCode", required=True, width=18, explanation="1-50 个字符，工厂内唯一"),
    Column("客户类型", "type", required=True, explanation="企业 / 个人 / 经销商 / 零售（下拉选择）"),
    Column("行业", "industry", explanation="所属行业，如 餐饮、零售、批发（可下拉选择或自行填写）"),
    Column("联系人", "contactPerson", required=True, explanation="联系人姓名"),
    Column("联系电话", "phoneNumber", required=True, width=16,
           explanation="11 位手机号（如 13800138000）或固话（如 021-12345678），请以文本格式填写"),
    Column("邮箱", "email", width=24, explanation="可选，邮箱格式"),
    Column("地址", "address", width=28, explanation="可选，最多 500 个字符"),
    Column("信用额度", "creditLimit", MONEY, explanation="可选，≥ 0，默认 0（元）"),
    Column("当前余额", "currentBalance", MONEY,
           explanation="可选，期初余额（元），负数表示欠款；非 0 时需要工厂管理员或财务管理员权限"),
    Column("可用额度", "availableCredit", MONEY, importable=False,
           explanation="导出时计算（信用额度 - |当前余额|），导入时忽略"),
    Column("付款期限", "paymentTerms", INTEGER, explanation="可选，天数，默认 30"),
    Column("税号", "taxNumber", width=22, explanation="可选"),
    Column("评级", "rating", INTEGER, explanation="可选，1-5 星，默认 3"),
    Column("是否启用", "isActive", BOOLEAN, explanation="可选，是 / 否，默认 是"),
    Column("备注", "notes", width=24, explanation="可选"),
    Column("累计订单数", "totalOrders", INTEGER, importable=False, explanation="导出时来自订单统计，导入时忽略"),
    Column("累计营收", "totalRevenue", MONEY, importable=False, explanation="导出时来自订单统计，导入时忽略"),
)
COLUMN_BY_HEADER = {c.header: c for c in COLUMNS}
COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}
HEADER_ALIASES = {"所属行业": "行业", "启用状态": "是否启用", "付款期限(天)": "付款期限", "付款期限（天）": "付款期限"}
TEMPLATE_COLUMNS = tuple(c for c in COLUMNS if c.importable)
REQUIRED_HEADERS = tuple(c.header for c in COLUMNS if c.required)

TEMPLATE_SAMPLES = (
    {"name": "上海餐饮有限公司", "customerCode": "C-001", "type": "企业", "industry": "餐饮",
     "contactPerson": "张经理", "phoneNumber": "13800138000", "email": "zhang@example.com",
     "address": "上海市浦东新区", "creditLimit": 100000, "currentBalance": 0, "paymentTerms": 30,
     "taxNumber": "91310000MA1234567", "rating": 4, "isActive": True, "notes": "VIP大客户"},
    {"name": "李记批发部", "customerCode": "C-002", "type": "经销商", "industry": "批发",
     "contactPerson": "李老板", "phoneNumber": "021-12345678", "email": None,
     "address": "上海市闵行区", "creditLimit": 50000, "currentBalance": 0, "paymentTerms": 15,
     "taxNumber": None, "rating": 3, "isActive": True, "notes": None},
)


class SheetError(ValueError):
    """The sheet as a whole cannot be imported (no header, required columns missing...)."""


@dataclass(frozen=True)
class SheetLayout:
    """Where each known column sits in the header row."""
    fields_by_index: dict[int, str]
    headers: tuple[str, ...]


def normalise_header(value: Any) -> str:
    text = "" if value is None else str(value).strip().replace(" ", "").lstrip("*")
    return HEADER_ALIASES.get(text, text)


def read_layout(header_cells: Sequence[Any]) -> SheetLayout:
    """Map header cells to fields; refuse a sheet that lacks a required column or names
    one twice. Unknown columns are ignored (the export's computed columns among them)."""
    headers = tuple(normalise_header(v) for v in header_cells)
    fields_by_index: dict[int, str] = {}
    seen: set[str] = set()
    for index, header in enumerate(headers):
        column = COLUMN_BY_HEADER.get(header)
        if column is None:
            continue
        if header in seen:
            raise SheetError(f"表头中“{header}”列重复")
        seen.add(header)
        if column.importable:
            fields_by_index[index] = column.field
    missing = [h for h in REQUIRED_HEADERS if h not in seen]
    if missing:
        raise SheetError("缺少必需的列: " + "、".join(missing) + "（请使用导入模板）")
    return SheetLayout(fields_by_index, headers)


def is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 13800138000 typed as a number
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def convert_cell(kind: str, value: Any) -> Any:
    """One cell -> the request value; ``ValueError`` with a user message when it cannot be."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if kind == TEXT:
        return _text(value)[:MAX_CELL_CHARS + 1]
    if kind == INTEGER:
        if isinstance(value, bool):
            raise ValueError("应为整数")
        if isinstance(value, int):
            return value
        try:
            number = Decimal(_text(value))
        except InvalidOperation:
            raise ValueError("应为整数") from None
        if not number.is_finite() or number != number.to_integral_value():
            raise ValueError("应为整数")
        return int(number)
    if kind == MONEY:
        if isinstance(value, bool):
            raise ValueError("应为数字")
        try:
            number = Decimal(_text(value).replace(",", ""))
        except InvalidOperation:
            raise ValueError("应为数字") from None
        if not number.is_finite():
            raise ValueError("应为数字")
        return number
    if kind == BOOLEAN:
        if isinstance(value, bool):
            return value
        word = _text(value).lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ValueError("应为 是 或 否")
    raise AssertionError(kind)


def row_to_request(layout: SheetLayout, values: Sequence[Any]) -> tuple[dict, dict[str, list[str]]]:
    """A data row -> (create request with camelCase fields, cell errors by field)."""
    data: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for index, field in layout.fields_by_index.items():
        value = values[index] if index < len(values) else None
        try:
            converted = convert_cell(COLUMN_BY_FIELD[field].kind, value)
        except ValueError as exc:
            errors[field] = [str(exc)]
            continue
        if converted is not None:
            data[field] = converted
    return data, errors


def original_row(layout: SheetLayout, values: Sequence[Any]) -> dict[str, Any]:
    """The row as the user wrote it (header -> JSON-safe value), for failure reports."""
    out: dict[str, Any] = {}
    for index, header in enumerate(layout.headers):
        if not header:
            continue
        value = values[index] if index < len(values) else None
        if isinstance(value, (dt.date, dt.datetime, dt.time)):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, str) and len(value) > MAX_CELL_CHARS:
            value = value[:MAX_CELL_CHARS] + "…"
        out[header] = value
    return out


def describe_errors(errors: dict[str, list[str]]) -> str:
    """``{"phoneNumber": ["..."]}`` -> ``"联系电话: ..."``, in column order."""
    order = {c.field: i for i, c in enumerate(COLUMNS)}
    parts = []
    for field in sorted(errors, key=lambda f: order.get(f, len(order))):
        column = COLUMN_BY_FIELD.get(field)
        label = column.header if column else field
        parts.append(f"{label}: {'；'.join(errors[field])}")
    return "; ".join(parts)


def type_label(code: str | None) -> str | None:
    return rules.CUSTOMER_TYPES.get(code, code) if code else None


def export_cell(field: str, value: Any) -> Any:
    """A customer value -> what the export writes (labels, 是/否, numbers as numbers)."""
    if value is None:
        return None
    if field == "isActive":
        return "是" if value else "否"
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
