"""Issue 4: batch operations of seed 001 §6 through the gateway: Excel import and export
(an export re-imported into an empty factory reproduces the same customers), the import
template, the all-or-nothing JSON import, and files that must be refused."""
from __future__ import annotations

import io
import re
import urllib.parse

import openpyxl
import pytest

pytestmark = pytest.mark.system

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SEED_HEADER = ["客户名称", "客户代码", "客户类型", "联系人", "联系电话", "邮箱", "地址", "信用额度", "付款期限", "评级"]
SEED_ROW = ["上海餐饮", "C-001", "企业", "张经理", "13800138000", "zhang@example.com", "上海", 100000, 30, 4]


def base(factory: str) -> str:
    return f"/api/mobile/{factory}/customers"


def workbook_bytes(rows) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def sheet_rows(content: bytes, sheet: int = 0) -> list[dict]:
    values = list(openpyxl.load_workbook(io.BytesIO(content)).worksheets[sheet].iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, row)) for row in values[1:]]


def upload(api, factory, content: bytes, filename="客户.xlsx"):
    return api.post(f"{base(factory)}/import", files={"file": (filename, content, XLSX)})


def utf8_filename(disposition: str) -> str:
    match = re.search(r"filename\*=UTF-8''([^;]+)", disposition)
    assert match, disposition
    return urllib.parse.unquote(match.group(1))




def test_export_reimported_into_an_empty_factory_reproduces_the_same_customers(stack, client_for, factory):
    source = client_for(roles=["admin"], factories=[factory])
    people = [
        {"name": "上海餐饮有限公司", "customerCode": "C-20251120-001", "type": "企业", "industry": "餐饮",
         "contactPerson": "张经理", "phoneNumber": "13800138000", "email": "zhangmgr@example.com",
         "address": "上海市浦东新区", "creditLimit": 100000, "paymentTerms": 30, "taxNumber": "91310000MA1234567",
         "rating": 4, "notes": "VIP大客户"},
        {"name": "王五", "customerCode": "00123", "type": "个人", "contactPerson": "王五", "phoneNumber": "021-12345678"},
        {"name": "李记批发部", "customerCode": "D-7", "type": "经销商", "industry": "批发", "contactPerson": "李老板",
         "phoneNumber": "13900139000", "creditLimit": 50000.5, "paymentTerms": 15, "rating": 2},
        {"name": "便利店", "customerCode": "R-1", "type": "零售", "contactPerson": "赵", "phoneNumber": "13700137000"},
    ]
    ids = [source.post(base(factory), json=p).json()["data"]["id"] for p in people]
    source.put(f"{base(factory)}/{ids[2]}/balance", params={"balance": -12345.67})
    source.put(f"{base(factory)}/{ids[2]}/status", params={"isActive": "false"})
    source.put(f"{base(factory)}/{ids[0]}/balance", params={"balance": 800})
    source.delete(f"{base(factory)}/{ids[3]}")  # deleted customers are not exported

    exported = source.get(f"{base(factory)}/export")
    assert exported.status_code == 200, exported.text
    assert exported.headers["Content-Type"] == XLSX and exported.headers["X-Total-Count"] == "3"
    assert re.fullmatch(r"客户列表_\d{8}_\d{6}\.xlsx", utf8_filename(exported.headers["Content-Disposition"]))
    assert 'filename="customers_' in exported.headers["Content-Disposition"]
    rows = sheet_rows(exported.content)
    assert [r["客户代码"] for r in rows] == ["C-20251120-001", "00123", "D-7"]
    debtor = rows[2]
    assert (debtor["当前余额"], debtor["可用额度"], debtor["是否启用"], debtor["客户类型"], debtor["信用额度"]) == \
        (-12345.67, 37654.83, "否", "经销商", 50000.5)
    assert rows[0]["邮箱"] == "zhangmgr@example.com" and rows[1]["联系电话"] == "021-12345678"
    assert {(r["累计订单数"], r["累计营收"]) for r in rows} == {(0, 0)}  # no orders

    target = "R" + factory
    empty = client_for(roles=["admin"], factories=[target])
    imported = upload(empty, target, exported.content, filename="客户列表.xlsx")
    result = imported.json()["data"]
    assert imported.status_code == 200 and imported.json()["message"] == "导入成功", imported.text
    assert (result["totalRows"], result["successCount"], result["failureCount"], result["isFullSuccess"]) == \
        (3, 3, 0, True)
    again = sheet_rows(empty.get(f"{base(target)}/export").content)
    by_code = lambda exported: sorted(exported, key=lambda r: r["客户代码"])  # noqa: E731 - ids differ, not content
    assert by_code(again) == by_code(rows)  # every exported column, computed ones included

    def comparable(c):
        return {k: v for k, v in c.items() if k not in ("id", "createdAt", "updatedAt", "version", "lastPaymentDate",
                                                        "isOverdue", "overdueDays", "riskLevel", "riskLevelLabel",
                                                        "riskLevelColor", "ratingNotes")}
    before = [comparable(c) for c in source.get(base(factory), params={"sortBy": "customerCode"}).json()["data"]["content"]]
    after = [comparable(c) for c in empty.get(base(target), params={"sortBy": "customerCode"}).json()["data"]["content"]]
    assert after == before


def test_import_reports_each_broken_row_and_loses_no_good_row(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    api.post(base(factory), json={"name": "已有客户", "customerCode": "C-TAKEN", "type": "企业",
                                  "contactPerson": "甲", "phoneNumber": "13800138000"})
    content = workbook_bytes([
        SEED_HEADER,
        SEED_ROW,                                                                        # row 2: good
        ["坏电话", "C-002", "企业", "李经理", "12345", None, None, None, None, None],         # row 3
        ["重复代码", "C-TAKEN", "企业", "王经理", "13800138001", None, None, None, None, None],  # row 4
        [None] * 10,                                                                     # row 5: blank, skipped
        ["", "C-004", "合伙", "", "13800138002", "no-mail", None, -5, "三十", 7],            # row 6
        ["成都火锅", "C-005", "零售", "赵经理", "028-87654321", None, "成都", 2000, 7, 5],      # row 7: good
        ["欠款客户", "C-006", "企业", "钱经理", "13800138003", None, None, 1000, 30, 3],       # row 8: good
    ] + [])
    book = openpyxl.load_workbook(io.BytesIO(content))
    book.active["K1"], book.active["K8"] = "当前余额", -300  # an opening balance needs a finance role
    buffer = io.BytesIO()
    book.save(buffer)

    resp = upload(api, factory, buffer.getvalue())
    assert resp.status_code == 200, resp.text
    body = resp.json()
    result = body["data"]
    assert body["message"] == "部分导入成功：成功 2 行，失败 4 行"
    assert (result["totalRows"], result["successCount"], result["failureCount"], result["isFullSuccess"]) == \
        (6, 2, 4, False)
    assert [c["customerCode"] for c in result["successRecords"]] == ["C-001", "C-005"]
    assert result["successRecords"][0]["type"] == "企业" and result["successRecords"][1]["phoneNumber"] == "028-87654321"
    failures = {f["rowNumber"]: f for f in result["failureRecords"]}
    assert sorted(failures) == [3, 4, 6, 8]
    assert failures[3]["errorMessage"].startswith("联系电话:")
    assert failures[3]["data"]["客户名称"] == "坏电话" and failures[3]["data"]["联系电话"] == "12345"
    assert failures[4]["errorMessage"] == "客户代码已存在: C-TAKEN"
    for column in ("客户名称", "客户类型", "联系人", "邮箱", "信用额度", "付款期限", "评级"):
        assert column in failures[6]["errorMessage"], column
    assert "财务" in failures[8]["errorMessage"]
    listed = api.get(base(factory), params={"sortBy": "customerCode", "sortOrder": "asc"}).json()["data"]["content"]
    assert [c["customerCode"] for c in listed] == ["C-001", "C-005", "C-TAKEN"]


@pytest.mark.parametrize("filename, content, message", [
    ("客户.csv", "客户名称,客户代码\n上海餐饮,C-001\n".encode(), "仅支持 .xlsx 格式的 Excel 文件"),
    ("客户.xlsx", b"this is not a spreadsheet", "文件不是有效的 .xlsx 文件"),
    ("客户.xlsx", b"PK\x03\x04broken zip", "文件不是有效的 .xlsx 文件"),
    ("客户.xlsx", workbook_bytes([["名字", "电话"], ["上海餐饮", "13800138000"]]), "缺少必需的列"),
    ("客户.xlsx", workbook_bytes([SEED_HEADER]), "文件中没有客户数据"),
    ("客户.xlsx", b"", "上传的文件为空"),
])
def test_import_refuses_a_file_it_cannot_read_with_a_clear_message(client_for, factory, filename, content, message):
    api = client_for(roles=["factory_admin"], factories=[factory])
    resp = upload(api, factory, content, filename)
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["code"] == 400 and message in body["message"] and "file" in body["errors"]
    assert api.get(base(factory)).json()["data"]["totalElements"] == 0


def test_import_without_a_file_is_400(client_for, factory):
    api = client_for(roles=["factory_admin"], factories=[factory])
    resp = api.post(f"{base(factory)}/import", data={"other": "x"})
    assert resp.status_code == 400 and "file" in resp.json()["errors"]


def test_import_over_10_mb_is_413_and_imports_nothing(client_for, factory):
    api = client_for(roles=["factory_admin"], factories=[factory])
    resp = upload(api, factory, b"\0" * (10 * 1024 * 1024 + 1))
    assert resp.status_code == 413, resp.text
    assert resp.json()["code"] == 413 and "10MB" in resp.json()["message"]
    assert api.get(base(factory)).json()["data"]["totalElements"] == 0


def test_template_has_headers_samples_dropdowns_and_explanations_and_imports_as_is(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    resp = api.get(f"{base(factory)}/export/template")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == XLSX
    assert utf8_filename(resp.headers["Content-Disposition"]) == "客户导入模板.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(resp.content))
    sheet, help_sheet = book.worksheets
    header = [c.value for c in sheet[1]]
    assert header[:3] == ["客户名称", "客户代码", "客户类型"] and {"行业", "联系人", "联系电话", "信用额度", "付款期限",
                                                               "评级"} <= set(header)
    samples = sheet_rows(resp.content)
    assert len(samples) == 2 and all(s["客户名称"] and s["客户类型"] in ("企业", "个人", "经销商", "零售") for s in samples)
    lists = {str(dv.sqref).split(":")[0].rstrip("0123456789"): dv.formula1
             for dv in sheet.data_validations.dataValidation if dv.type == "list"}
    type_column = openpyxl.utils.get_column_letter(header.index("客户类型") + 1)
    industry_column = openpyxl.utils.get_column_letter(header.index("行业") + 1)
    assert lists[type_column] == '"企业,个人,经销商,零售"' and "餐饮" in lists[industry_column]
    explained = {r["字段"]: r for r in sheet_rows(resp.content, sheet=1) if r["字段"] in header}
    assert set(explained) == set(header) and explained["客户名称"]["是否必填"] == "必填"
    assert all(r["填写说明"] for r in explained.values())

    imported = upload(api, factory, resp.content, filename="客户导入模板.xlsx").json()["data"]
    assert (imported["successCount"], imported["failureCount"]) == (2, 0)


def test_json_import_is_all_or_nothing(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    items = [{"name": f"批量客户{i}", "customerCode": f"J-{i}", "type": "企业", "contactPerson": "张经理",
              "phoneNumber": "13800138000"} for i in range(8)]
    resp = api.post(f"{base(factory)}/import/json", json=items)
    assert resp.status_code == 200, resp.text
    assert resp.json()["message"] == "成功导入8个客户"
    assert [c["customerCode"] for c in resp.json()["data"]] == [f"J-{i}" for i in range(8)]

    batch = [
        {"name": "新客户A", "customerCode": "J-NEW-A", "type": "企业", "contactPerson": "甲", "phoneNumber": "13800138000"},
        {"name": "新客户B", "customerCode": "J-3", "type": "企业", "contactPerson": "乙", "phoneNumber": "13800138000"},
        {"name": "新客户A", "customerCode": "J-NEW-C", "type": "企业", "contactPerson": "丙", "phoneNumber": "13800138000"},
        {"name": "新客户D", "customerCode": "J-NEW-D", "type": "公司", "contactPerson": "丁", "phoneNumber": "1"},
    ]
    refused = api.post(f"{base(factory)}/import/json", json=batch)
    assert refused.status_code == 400
    assert set(refused.json()["errors"]) == {"3.type", "3.phoneNumber"}  # format first, nothing else checked yet
    refused = api.post(f"{base(factory)}/import/json", json=batch[:3])
    assert refused.status_code == 400 and refused.json()["errors"] == {
        "1.customerCode": ["客户代码已存在: J-3"], "2.name": ["与第 0 项的客户名称重复: 新客户A"]}
    assert api.get(base(factory)).json()["data"]["totalElements"] == 8
    assert api.get(f"{base(factory)}/check-code", params={"customerCode": "J-NEW-A"}).json()["data"] is False

    too_many = [dict(items[0], customerCode=f"M-{i}", name=f"M{i}") for i in range(1001)]
    assert "_schema" in api.post(f"{base(factory)}/import/json", json=too_many).json()["errors"]
    assert api.post(f"{base(factory)}/import/json", json=[]).status_code == 400
    assert api.post(f"{base(factory)}/import/json", json={"name": "不是数组"}).status_code == 400
