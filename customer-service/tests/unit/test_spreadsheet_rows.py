"""The customer sheet of seed 001 §6 without openpyxl: headers, cell conversion, row
requests and failure descriptions."""
import datetime as dt
from decimal import Decimal

import pytest

from customer_service.domain import spreadsheet as sheet
from customer_service.entrypoints.mobile.schemas import validate_import_row

SEED_HEADER = ["客户名称", "客户代码", "客户类型", "联系人", "联系电话", "邮箱", "地址", "信用额度", "付款期限", "评级"]
SEED_ROW = ["上海餐饮", "C-001", "企业", "张经理", 13800138000, "zhang@example.com", "上海", 100000, 30, 4]


def test_the_seed_example_row_becomes_a_create_request():
    layout = sheet.read_layout(SEED_HEADER)
    request, errors = sheet.row_to_request(layout, SEED_ROW)
    assert errors == {}
    assert request == {"name": "上海餐饮", "customerCode": "C-001", "type": "企业", "contactPerson": "张经理",
                       "phoneNumber": "13800138000", "email": "zhang@example.com", "address": "上海",
                       "creditLimit": Decimal(100000), "paymentTerms": 30, "rating": 4}
    clean, problems = validate_import_row(request)  # onto the model's names, the type label onto its code
    assert problems == {} and clean["primary_contact_phone"] == "13800138000" and clean["type"] == "company"


def test_headers_may_come_in_any_order_with_aliases_and_unknown_columns():
    layout = sheet.read_layout(["备用列", "联系电话", " 客户名称 ", "*客户代码", "客户类型", "联系人", "所属行业",
                                "可用额度", "启用状态"])
    assert layout.fields_by_index == {1: "phoneNumber", 2: "name", 3: "customerCode", 4: "type",
                                      5: "contactPerson", 6: "industry", 8: "isActive"}


def test_a_sheet_without_the_required_columns_is_refused_as_a_whole():
    with pytest.raises(sheet.SheetError, match="缺少必需的列: 客户类型、联系人、联系电话"):
        sheet.read_layout(["客户名称", "客户代码", "邮箱"])
    with pytest.raises(sheet.SheetError, match="重复"):
        sheet.read_layout(SEED_HEADER + ["客户名称"])


@pytest.mark.parametrize("kind, value, expected", [
    (sheet.TEXT, 13800138000.0, "13800138000"),
    (sheet.TEXT, "  张经理 ", "张经理"),
    (sheet.TEXT, dt.date(2026, 1, 2), "2026-01-02"),
    (sheet.INTEGER, "30", 30),
    (sheet.INTEGER, 4.0, 4),
    (sheet.MONEY, "1,000.50", Decimal("1000.50")),
    (sheet.MONEY, -2500, Decimal(-2500)),
    (sheet.BOOLEAN, "是", True),
    (sheet.BOOLEAN, "否", False),
    (sheet.BOOLEAN, "FALSE", False),
    (sheet.TEXT, "   ", None),
    (sheet.MONEY, None, None),
])
def test_cells_convert_to_request_values(kind, value, expected):
    assert sheet.convert_cell(kind, value) == expected


@pytest.mark.parametrize("kind, value, message", [
    (sheet.INTEGER, "三十", "应为整数"), (sheet.INTEGER, 4.5, "应为整数"), (sheet.INTEGER, True, "应为整数"),
    (sheet.MONEY, "abc", "应为数字"), (sheet.MONEY, "NaN", "应为数字"), (sheet.BOOLEAN, "也许", "应为 是 或 否"),
])
def test_unconvertible_cells_are_reported(kind, value, message):
    with pytest.raises(ValueError, match=message):
        sheet.convert_cell(kind, value)


def test_a_broken_row_names_every_failing_column_in_sheet_order():
    layout = sheet.read_layout(SEED_HEADER)
    request, cell_errors = sheet.row_to_request(layout, ["", "C-9", "公司", "李四", "12345", "bad", None, "多", "x", 9])
    _, errors = validate_import_row(request)
    errors.update(cell_errors)
    message = sheet.describe_errors(errors)
    assert message.index("客户名称") < message.index("客户类型") < message.index("联系电话") \
        < message.index("邮箱") < message.index("信用额度") < message.index("付款期限") < message.index("评级")
    assert "该字段为必填项" in message and "应为数字" in message and "取值范围为 1-5" in message


def test_the_original_row_is_kept_json_safe_for_the_failure_report():
    layout = sheet.read_layout(SEED_HEADER + ["备注"])
    original = sheet.original_row(layout, SEED_ROW[:5] + [dt.datetime(2026, 1, 2, 3, 4)])
    assert original["客户名称"] == "上海餐饮" and original["联系电话"] == 13800138000
    assert original["邮箱"] == "2026-01-02T03:04:00" and original["备注"] is None


def test_blank_rows_are_recognised():
    assert sheet.is_blank([None, "  ", ""]) and not sheet.is_blank([None, 0])


def test_export_cells_use_labels_and_plain_numbers():
    assert sheet.export_cell("isActive", True) == "是" and sheet.export_cell("isActive", False) == "否"
    assert sheet.export_cell("creditLimit", Decimal("100000.00")) == 100000
    assert sheet.export_cell("currentBalance", Decimal("-1.50")) == -1.5


def test_every_importable_export_column_is_read_back_by_the_import():
    header = [c.header for c in sheet.COLUMNS]
    layout = sheet.read_layout(header)
    assert set(layout.fields_by_index.values()) == {c.field for c in sheet.COLUMNS if c.importable}


def test_every_importable_column_is_read_back_onto_the_attribute_the_export_writes_it_from():
    from customer_service.entrypoints.mobile.sheets import EXPORTED
    assert {api for api, _attribute in EXPORTED} | {"type", "isActive"} == \
        {c.field for c in sheet.COLUMNS if c.importable}
    row = {"客户名称": "甲", "客户代码": "C-1", "客户类型": "企业", "联系人": "张", "联系电话": "13800138000",
           "信用额度": 5, "当前余额": -1, "是否启用": "否", "付款期限": 7, "评级": 2, "行业": "餐饮", "税号": "T"}
    layout = sheet.read_layout(list(row))
    request, _ = sheet.row_to_request(layout, list(row.values()))
    clean, problems = validate_import_row(request)
    assert problems == {}
    for api, attribute in EXPORTED:
        if api in request:
            assert clean[attribute] == request[api], api
    assert clean["status"] == "inactive"
