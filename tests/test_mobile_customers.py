"""Issue 4: the tenant customer API of seed 001 through the gateway, on real processes:
CRUD, queries, status and rating, money, checks, tenant isolation and roles, with the
seed's example payloads."""
from __future__ import annotations

import io
import uuid

import openpyxl
import pytest

from crm_testing import wait_for

pytestmark = pytest.mark.system

SEED_CREATE = {
    "name": "上海餐饮有限公司", "customerCode": "C-20251120-001", "type": "企业", "industry": "餐饮",
    "contactPerson": "张经理", "phoneNumber": "13800138000", "email": "zhangmgr@example.com",
    "address": "上海市浦东新区", "creditLimit": 100000, "paymentTerms": 30, "rating": 4, "notes": "VIP大客户",
}
DTO_FIELDS = {"id", "customerCode", "name", "type", "industry", "contactPerson", "phoneNumber", "email", "address",
              "creditLimit", "currentBalance", "availableCredit", "paymentTerms", "taxNumber", "rating",
              "ratingNotes", "isActive", "totalOrders", "totalRevenue", "lastOrderDate", "createdAt", "updatedAt",
              "createdBy", "isOverdue", "overdueDays", "creditUtilization", "riskLevel", "customerLifetimeValue"}


def base(factory: str) -> str:
    return f"/api/mobile/{factory}/customers"


def customer(**overrides) -> dict:
    suffix = uuid.uuid4().hex[:8]
    body = {**SEED_CREATE, "name": f"客户{suffix}", "customerCode": f"C-{suffix}"}
    body.update(overrides)
    return body


def created(api, factory, **overrides) -> dict:
    resp = api.post(base(factory), json=customer(**overrides))
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]


def ok(resp, message=None):
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["code"] == 200 and body["message"] == message
    return body["data"]


def error(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["code"] == status and body["message"]
    return body


# --- §1 CRUD ---------------------------------------------------------------------------------

def test_create_answers_the_seed_example_with_defaults(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    data = ok(api.post(base(factory), json=SEED_CREATE), "客户创建成功")
    assert DTO_FIELDS <= set(data)
    assert isinstance(data["id"], str) and data["id"].isdigit()
    for key, value in SEED_CREATE.items():
        assert data[key] == value, key
    assert (data["currentBalance"], data["isActive"], data["availableCredit"]) == (0, True, 100000)
    assert data["createdBy"] == "u-test" and data["createdAt"]
    required_only = {"name": "最小客户", "customerCode": "C-MIN", "type": "个人", "contactPerson": "王五",
                     "phoneNumber": "021-12345678"}
    minimal = ok(api.post(base(factory), json=required_only), "客户创建成功")
    assert (minimal["rating"], minimal["paymentTerms"], minimal["creditLimit"], minimal["currentBalance"],
            minimal["isActive"]) == (3, 30, 0, 0, True)


def test_create_validates_every_field_the_seed_names(client_for, factory):
    api = client_for(roles=["factory_admin"], factories=[factory])
    body = error(api.post(base(factory), json={
        "name": "x" * 101, "customerCode": "C" * 51, "type": "公司", "contactPerson": "",
        "phoneNumber": "12345", "creditLimit": -1, "rating": 6, "email": "not-mail", "currentBalance": 5}), 400)
    assert set(body["errors"]) == {"name", "customerCode", "type", "contactPerson", "phoneNumber", "creditLimit",
                                   "rating", "email", "currentBalance"}
    missing = error(api.post(base(factory), json={}), 400)
    assert set(missing["errors"]) == {"name", "customerCode", "type", "contactPerson", "phoneNumber"}
    assert error(api.post(base(factory), data="{oops", headers={"Content-Type": "application/json"}), 400)


def test_duplicate_code_and_name_are_400_naming_the_field(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    first = created(api, factory, customerCode="C-001", name="重名客户")
    dup_code = error(api.post(base(factory), json=customer(customerCode="C-001")), 400)
    assert dup_code["message"] == "客户代码已存在: C-001"
    assert dup_code["errors"] == {"customerCode": ["客户代码已存在: C-001"]}
    dup_name = error(api.post(base(factory), json=customer(name="重名客户")), 400)
    assert dup_name["errors"] == {"name": ["客户名称已存在: 重名客户"]}
    both = error(api.post(base(factory), json=customer(name="重名客户", customerCode="C-001")), 400)
    assert set(both["errors"]) == {"name", "customerCode"}
    # another tenant may use both
    other = client_for(roles=["admin"], factories=["X" + factory])
    assert other.post(base("X" + factory), json=customer(name="重名客户", customerCode="C-001")).status_code == 200
    assert ok(api.get(f"{base(factory)}/{first['id']}"))["name"] == "重名客户"


def test_update_changes_only_the_fields_sent_and_never_system_fields(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    original = created(api, factory)
    data = ok(api.put(f"{base(factory)}/{original['id']}", json={"contactPerson": "李经理", "type": "经销商",
                                                               "phoneNumber": "0571-87654321"}), "客户更新成功")
    assert (data["contactPerson"], data["type"], data["phoneNumber"]) == ("李经理", "经销商", "0571-87654321")
    for unchanged in ("name", "customerCode", "email", "creditLimit", "rating", "createdAt", "createdBy"):
        assert data[unchanged] == original[unchanged]
    assert data["updatedAt"] >= original["updatedAt"]
    refused = error(api.put(f"{base(factory)}/{original['id']}",
                            json={"currentBalance": 99, "createdAt": "2020-01-01", "isActive": False}), 400)
    assert set(refused["errors"]) == {"currentBalance", "createdAt", "isActive"}
    code = error(api.put(f"{base(factory)}/{original['id']}", json={"customerCode": "C-NEW"}), 400)
    assert code["errors"] == {"customerCode": ["客户代码创建后不可修改"]}
    assert error(api.put(f"{base(factory)}/{original['id']}", json={}), 400)
    other = created(api, factory)
    taken = error(api.put(f"{base(factory)}/{original['id']}", json={"name": other["name"]}), 400)
    assert list(taken["errors"]) == ["name"]
    assert ok(api.get(f"{base(factory)}/{original['id']}"))["currentBalance"] == 0


def test_delete_is_soft_and_refused_while_the_customer_owes_money(client_for, factory):
    boss = client_for(roles=["factory_admin"], factories=[factory])
    debtor = created(boss, factory)
    ok(boss.put(f"{base(factory)}/{debtor['id']}/balance", params={"balance": -15000}), "客户余额更新成功")
    refused = error(boss.delete(f"{base(factory)}/{debtor['id']}"), 409)
    assert "15,000.00" in refused["message"] and "currentBalance" in refused["errors"]
    ok(boss.put(f"{base(factory)}/{debtor['id']}/balance", params={"balance": 0}), "客户余额更新成功")
    assert ok(boss.delete(f"{base(factory)}/{debtor['id']}"), "客户删除成功") is None
    error(boss.get(f"{base(factory)}/{debtor['id']}"), 404)
    error(boss.delete(f"{base(factory)}/{debtor['id']}"), 404)
    assert ok(boss.get(base(factory)))["totalElements"] == 0
    # its code stays reserved, its name is free again
    assert ok(boss.get(f"{base(factory)}/check-code", params={"customerCode": debtor["customerCode"]})) is True
    assert boss.post(base(factory), json=customer(name=debtor["name"])).status_code == 200


def test_detail_computes_credit_and_risk_and_asks_analytics_for_order_figures(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    cid = created(api, factory, rating=4)["id"]
    ok(api.put(f"{base(factory)}/{cid}/balance", params={"balance": -15000}), "客户余额更新成功")
    data = ok(api.get(f"{base(factory)}/{cid}"))
    assert (data["currentBalance"], data["availableCredit"], data["creditUtilization"]) == (-15000, 85000, 15)
    assert (data["isOverdue"], data["overdueDays"], data["riskLevel"], data["riskLevelLabel"]) == \
        (False, 0, "NORMAL", "正常客户")
    # no orders exist for this customer
    assert (data["totalOrders"], data["totalRevenue"], data["lastOrderDate"]) == (0, 0, None)
    for bad in ("abc", "0", "999999999999", "1e3", "12345678901234567890"):
        assert error(api.get(f"{base(factory)}/{bad}"), 404)


def test_detail_and_export_show_the_order_figures_analytics_holds(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    cid = created(api, factory)["id"]
    orders = [{"order_id": f"ORDER-{cid}-{n}", "customer_id": cid, "order_date": day, "total_amount": amount}
              for n, (day, amount) in enumerate((("2025-11-01", 10000), ("2025-11-18", 25000)))]
    recorded = api.post("/api/v1/analytics/orders", json={"orders": orders}, headers={"X-Factory-Id": factory})
    assert recorded.status_code == 200, recorded.text
    # customer-service learns of the orders from analytics-service's order events
    figures = lambda: ok(api.get(f"{base(factory)}/{cid}"))  # noqa: E731
    data = wait_for(lambda: (lambda d: d if d["totalOrders"] == 2 else None)(figures()), timeout=30)
    assert data and (data["totalOrders"], data["totalRevenue"], data["lastOrderDate"]) == (2, 35000, "2025-11-18")
    exported = api.get(f"{base(factory)}/export")
    header, row = list(openpyxl.load_workbook(io.BytesIO(exported.content)).active.iter_rows(values_only=True))
    assert dict(zip(header, row))["累计订单数"] == 2 and dict(zip(header, row))["累计营收"] == 35000


def test_list_pages_sorts_and_refuses_unknown_sort_fields(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    for name, limit in (("丙", 300), ("甲", 100), ("乙", 200)):
        created(api, factory, name=f"{name}客户", creditLimit=limit)
    first = ok(api.get(base(factory), params={"size": 2}))
    assert (first["totalElements"], first["totalPages"], first["currentPage"], first["pageSize"],
            first["hasNext"], first["hasPrevious"]) == (3, 2, 1, 2, True, False)
    assert [c["name"] for c in first["content"]] == ["乙客户", "甲客户"]  # newest first by default
    second = ok(api.get(base(factory), params={"size": 2, "page": 2}))
    assert [c["name"] for c in second["content"]] == ["丙客户"] and second["hasPrevious"] and not second["hasNext"]
    by_limit = ok(api.get(base(factory), params={"sortBy": "creditLimit", "sortOrder": "asc"}))
    assert [c["creditLimit"] for c in by_limit["content"]] == [100, 200, 300]
    assert ok(api.get(base(factory), params={"page": 9}))["content"] == []
    assert "sortBy" in error(api.get(base(factory), params={"sortBy": "password"}), 400)["errors"]
    assert "sortOrder" in error(api.get(base(factory), params={"sortOrder": "sideways"}), 400)["errors"]
    assert "size" in error(api.get(base(factory), params={"size": 101}), 400)["errors"]
    assert "page" in error(api.get(base(factory), params={"page": 0}), 400)["errors"]


# --- §2 queries ------------------------------------------------------------------------------

def test_active_search_by_type_and_by_industry(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    a = created(api, factory, name="上海餐饮", customerCode="SH-1", type="企业", industry="餐饮", contactPerson="张三")
    b = created(api, factory, name="上海餐饮连锁", customerCode="SH-2", type="零售", industry="零售", contactPerson="李四")
    c = created(api, factory, name="杭州批发", customerCode="HZ-100%", type="经销商", industry="批发",
                contactPerson="上海来的王五")
    ok(api.put(f"{base(factory)}/{b['id']}/status", params={"isActive": "false"}), "客户状态更新成功")

    active = ok(api.get(f"{base(factory)}/active"))
    assert active == [{"id": a["id"], "name": "上海餐饮", "customerCode": "SH-1", "isActive": True, "rating": 4},
                      {"id": c["id"], "name": "杭州批发", "customerCode": "HZ-100%", "isActive": True, "rating": 4}]

    found = ok(api.get(f"{base(factory)}/search", params={"keyword": "上海餐饮"}))
    assert [x["name"] for x in found] == ["上海餐饮", "上海餐饮连锁"]  # exact name first
    assert [x["name"] for x in ok(api.get(f"{base(factory)}/search", params={"keyword": "上海"}))] == \
        ["上海餐饮", "上海餐饮连锁", "杭州批发"]  # name, code or contact person
    assert [x["id"] for x in ok(api.get(f"{base(factory)}/search", params={"keyword": "100%"}))] == [c["id"]]
    # wildcards are literal: "%" finds only the code containing it, "_" finds nothing
    assert [x["id"] for x in ok(api.get(f"{base(factory)}/search", params={"keyword": "%"}))] == [c["id"]]
    assert ok(api.get(f"{base(factory)}/search", params={"keyword": "_"})) == []
    assert ok(api.get(f"{base(factory)}/search", params={"keyword": "SH", "limit": 1}))[0]["id"] == a["id"]
    assert error(api.get(f"{base(factory)}/search"), 400)["errors"] == {"keyword": ["该字段为必填项"]}

    assert [x["id"] for x in ok(api.get(f"{base(factory)}/by-type", params={"type": "零售"}))] == [b["id"]]
    assert ok(api.get(f"{base(factory)}/by-type", params={"type": "个人"})) == []
    assert "type" in error(api.get(f"{base(factory)}/by-type", params={"type": "company"}), 400)["errors"]
    assert [x["id"] for x in ok(api.get(f"{base(factory)}/by-industry", params={"industry": "批发"}))] == [c["id"]]
    assert "industry" in error(api.get(f"{base(factory)}/by-industry"), 400)["errors"]


def test_lists_say_when_they_were_cut_at_the_limit(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    for i in range(3):
        created(api, factory, name=f"限量{i}")
    cut = api.get(f"{base(factory)}/active", params={"limit": 2})
    assert len(ok(cut)) == 2 and cut.headers["X-Result-Truncated"] == "true"
    whole = api.get(f"{base(factory)}/active", params={"limit": 3})
    assert len(ok(whole)) == 3 and "X-Result-Truncated" not in whole.headers
    assert "limit" in error(api.get(f"{base(factory)}/active", params={"limit": 10001}), 400)["errors"]


# --- §3 status and rating ----------------------------------------------------------------------

def test_status_toggle_and_rating_answer_the_seed_shapes(client_for, factory):
    api = client_for(roles=["sales_admin"], factories=[factory])
    cid = created(api, factory)["id"]
    off = ok(api.put(f"{base(factory)}/{cid}/status", params={"isActive": "false"}), "客户状态更新成功")
    assert (off["id"], off["isActive"], off["status"]) == (cid, False, "inactive") and off["updatedAt"]
    on = ok(api.put(f"{base(factory)}/{cid}/status", params={"isActive": "true"}), "客户状态更新成功")
    assert on["isActive"] is True
    assert "isActive" in error(api.put(f"{base(factory)}/{cid}/status"), 400)["errors"]
    assert "isActive" in error(api.put(f"{base(factory)}/{cid}/status", params={"isActive": "maybe"}), 400)["errors"]

    rated = ok(api.put(f"{base(factory)}/{cid}/rating", params={"rating": 5, "notes": "优质客户，按时付款，订单量大"}),
               "客户评级更新成功")
    assert rated == {"id": cid, "rating": 5, "ratingNotes": "优质客户，按时付款，订单量大", "updatedAt": rated["updatedAt"]}
    detail = ok(api.get(f"{base(factory)}/{cid}"))
    assert (detail["rating"], detail["ratingNotes"]) == (5, "优质客户，按时付款，订单量大")
    for bad in (0, 6, "x"):
        assert "rating" in error(api.put(f"{base(factory)}/{cid}/rating", params={"rating": bad}), 400)["errors"]


def test_a_blacklisted_customer_cannot_be_enabled_from_the_mobile_api(client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])
    cid = created(api, factory)["id"]
    assert api.patch(f"/api/v1/customers/{cid}/status", json={"status": "blacklisted"},
                     headers={"X-Factory-Id": factory}).status_code == 200
    refused = error(api.put(f"{base(factory)}/{cid}/status", params={"isActive": "true"}), 409)
    assert "黑名单" in refused["message"]
    still = ok(api.put(f"{base(factory)}/{cid}/status", params={"isActive": "false"}), "客户状态更新成功")
    assert (still["isActive"], still["status"]) == (False, "blacklisted")


# --- §4 money -----------------------------------------------------------------------------------

def test_credit_limit_and_balance_answer_the_seed_examples_and_warn_over_the_limit(client_for, factory):
    finance = client_for(roles=["finance_admin"], factories=[factory])
    cid = created(client_for(roles=["admin"], factories=[factory]), factory)["id"]
    ok(finance.put(f"{base(factory)}/{cid}/balance", params={"balance": -15000}), "客户余额更新成功")
    limit = ok(finance.put(f"{base(factory)}/{cid}/credit-limit", params={"creditLimit": 200000}), "信用额度更新成功")
    assert (limit["id"], limit["creditLimit"], limit["currentBalance"], limit["availableCredit"],
            limit["creditWarning"]) == (cid, 200000, -15000, 185000, False) and limit["updatedAt"]
    ok(finance.put(f"{base(factory)}/{cid}/credit-limit", params={"creditLimit": 100000}), "信用额度更新成功")
    balance = ok(finance.put(f"{base(factory)}/{cid}/balance", params={"balance": -25000}), "客户余额更新成功")
    assert (balance["currentBalance"], balance["creditLimit"], balance["availableCredit"], balance["isOverdue"]) == \
        (-25000, 100000, 75000, False)
    warned = ok(finance.put(f"{base(factory)}/{cid}/credit-limit", params={"creditLimit": 10000}), "信用额度更新成功")
    assert warned["creditWarning"] is True and "25,000.00" in warned["warningMessage"]
    assert warned["availableCredit"] == -15000
    assert ok(finance.get(f"{base(factory)}/{cid}"))["riskLevel"] == "HIGH_RISK"
    assert "creditLimit" in error(finance.put(f"{base(factory)}/{cid}/credit-limit",
                                              params={"creditLimit": -1}), 400)["errors"]
    assert "creditLimit" in error(finance.put(f"{base(factory)}/{cid}/credit-limit"), 400)["errors"]
    assert "balance" in error(finance.put(f"{base(factory)}/{cid}/balance", params={"balance": "x"}), 400)["errors"]


# --- §7 checks ----------------------------------------------------------------------------------

def test_check_code_and_outstanding_balances(client_for, factory):
    admin = client_for(roles=["admin"], factories=[factory])
    small = created(admin, factory, name="小欠款", customerCode="OWE-1")
    big = created(admin, factory, name="大欠款", customerCode="OWE-2")
    created(admin, factory, name="不欠款", customerCode="OWE-3")
    viewer = client_for(roles=["viewer"], factories=[factory])
    assert ok(viewer.get(f"{base(factory)}/check-code", params={"customerCode": "OWE-1"})) is True
    assert ok(viewer.get(f"{base(factory)}/check-code", params={"customerCode": "OWE-9"})) is False
    assert "customerCode" in error(viewer.get(f"{base(factory)}/check-code"), 400)["errors"]

    finance = client_for(roles=["finance_admin"], factories=[factory])
    finance.put(f"{base(factory)}/{small['id']}/balance", params={"balance": -1000})
    finance.put(f"{base(factory)}/{big['id']}/balance", params={"balance": -15000})
    listed = ok(finance.get(f"{base(factory)}/outstanding-balance"))
    assert [d["id"] for d in listed] == [big["id"], small["id"]]
    assert listed[0] == {"id": big["id"], "name": "大欠款", "customerCode": "OWE-2", "currentBalance": -15000,
                         "creditLimit": 100000, "overdueAmount": 0, "overdueDays": 0, "lastPaymentDate": None,
                         "contactPerson": "张经理", "phoneNumber": "13800138000", "paymentTerms": 30,
                         "lastOrderDate": None}


# --- tenants and roles --------------------------------------------------------------------------

ID_ENDPOINTS = [
    ("get", "/{id}", {}), ("put", "/{id}", {"json": {"notes": "x"}}), ("delete", "/{id}", {}),
    ("put", "/{id}/status", {"params": {"isActive": "false"}}), ("put", "/{id}/rating", {"params": {"rating": 1}}),
    ("put", "/{id}/credit-limit", {"params": {"creditLimit": 1}}), ("put", "/{id}/balance", {"params": {"balance": -1}}),
]
FACTORY_ENDPOINTS = ID_ENDPOINTS + [
    ("get", "", {}), ("post", "", {"json": SEED_CREATE}), ("get", "/active", {}),
    ("get", "/search", {"params": {"keyword": "a"}}), ("get", "/by-type", {"params": {"type": "企业"}}),
    ("get", "/by-industry", {"params": {"industry": "餐饮"}}), ("get", "/check-code", {"params": {"customerCode": "C"}}),
    ("get", "/outstanding-balance", {}), ("get", "/export", {}), ("get", "/export/template", {}),
    ("post", "/import/json", {"json": [SEED_CREATE]}),
    ("post", "/import", {"files": {"file": ("a.xlsx", b"PK", "application/octet-stream")}}),
]


def test_another_tenants_customer_is_404_on_every_endpoint_taking_an_id(client_for, factory):
    owner = client_for(roles=["admin"], factories=[factory])
    cid = created(owner, factory)["id"]
    other = "O" + factory
    stranger = client_for(roles=["admin"], factories=[other])
    for method, path, kw in ID_ENDPOINTS:
        resp = getattr(stranger, method)(base(other) + path.format(id=cid), **kw)
        assert resp.status_code == 404 and resp.json()["code"] == 404, (method, path, resp.text)
    assert ok(owner.get(f"{base(factory)}/{cid}"))["notes"] == "VIP大客户"


def test_a_factory_the_token_lacks_is_403_on_every_endpoint(client_for, factory):
    owner = client_for(roles=["admin"], factories=[factory])
    cid = created(owner, factory)["id"]
    outsider = client_for(roles=["factory_admin"], factories=["O" + factory])
    for method, path, kw in FACTORY_ENDPOINTS:
        resp = getattr(outsider, method)(base(factory) + path.format(id=cid), **kw)
        assert resp.status_code == 403 and resp.json()["code"] == 403, (method, path, resp.text)
        assert "data" in resp.json() and not resp.json()["data"]
    assert ok(owner.get(f"{base(factory)}/{cid}"))["notes"] == "VIP大客户"


@pytest.mark.parametrize("role, allowed", [
    ("viewer", {"get /{id}", "get ", "get /active", "get /search", "get /by-type", "get /by-industry",
                "get /check-code"}),
    ("analyst", {"get /{id}", "get ", "get /active", "get /search", "get /by-type", "get /by-industry",
                 "get /check-code"}),
    ("sales_admin", {"get /{id}", "get ", "get /active", "get /search", "get /by-type", "get /by-industry",
                     "get /check-code", "put /{id}", "put /{id}/status", "put /{id}/rating", "post ",
                     "get /export", "get /export/template", "post /import/json", "post /import"}),
    ("finance_admin", {"get /{id}", "get ", "get /active", "get /search", "get /by-type", "get /by-industry",
                       "get /check-code", "put /{id}/credit-limit", "put /{id}/balance", "get /outstanding-balance"}),
])
def test_each_role_gets_403_exactly_where_the_seed_denies_it(client_for, factory, role, allowed):
    cid = created(client_for(roles=["admin"], factories=[factory]), factory)["id"]
    api = client_for(roles=[role], factories=[factory])
    for method, path, kw in FACTORY_ENDPOINTS:
        if f"{method} {path}" in allowed:
            continue
        resp = getattr(api, method)(base(factory) + path.format(id=cid), **kw)
        assert resp.status_code == 403, (role, method, path, resp.text)
        assert resp.json()["code"] == 403
    for method, path, kw in FACTORY_ENDPOINTS:
        if f"{method} {path}" in allowed and method == "get" and "{id}" not in path and "export" not in path:
            assert getattr(api, method)(base(factory) + path, **kw).status_code == 200, (role, path)
