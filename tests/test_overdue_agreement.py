"""Issue 15, seed 001 §7.2 through the gateway: one overdue definition in both services.
overdueDays = today − (lastOrderDate + paymentTerms), lastOrderDate the newest order that was
not cancelled, a debt without any order counted from the day it began (``crm_common.credit``).
customer-service applies it with the last order date it keeps from analytics' order events;
analytics with its own order facts. For the same customers both must say the same: the
tenant detail's isOverdue/overdueDays, analytics' per-customer statistics, its credit-risk
and 风险客户 counts, and the refusal of a new order (CUSTOMER_OVERDUE)."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from crm_testing import wait_for

pytestmark = pytest.mark.system

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def order(customer_id: int, days: int, status: str = "COMPLETED") -> dict:
    return {"customer_id": str(customer_id), "order_date": (TODAY - dt.timedelta(days=days)).isoformat(),
            "status": status, "items": [{"product_name": "冻品猪肉", "quantity": 1, "unit_price": 100}]}


def test_both_services_count_the_same_customers_overdue_by_the_same_days(client_for, factory):
    admin = client_for(roles=["admin"], factories=[factory])
    finance = client_for(roles=["finance_admin"], factories=[factory], sub="u-fin", name="钱财务")
    manager = client_for(roles=["factory_admin"], factories=[factory])

    def create(name: str) -> int:
        resp = admin.post("/api/v1/customers", json={"customer": {
            "name": f"{name}-{factory}", "rating": 4, "credit_limit": 100000, "payment_terms": 30}})
        assert resp.status_code == 201, resp.text
        return resp.json()["data"]["id"]

    old, recent, cancelled, no_orders, no_debt = (create(n) for n in ("旧单", "近单", "取消", "无单", "不欠"))
    # Orders first (nobody owes anything yet, so none is refused), then the debts.
    for order_id, cid, days, status in [("OA-1", old, 45, "COMPLETED"), ("OA-2", recent, 10, "SHIPPED"),
                                        ("OA-3", cancelled, 5, "PENDING"), ("OA-4", cancelled, 45, "COMPLETED"),
                                        ("OA-5", no_debt, 90, "COMPLETED")]:
        resp = finance.put(f"/api/v1/analytics/orders/{order_id}", json=order(cid, days, status))
        assert resp.status_code == 201, resp.text
    # The newer order of `cancelled` is cancelled: its last order date is 45 days back again.
    assert finance.patch("/api/v1/analytics/orders/OA-3", json={"status": "CANCELLED"}).status_code == 200
    for cid in (old, recent, cancelled, no_orders):
        resp = admin.put(f"/api/mobile/{factory}/customers/{cid}/balance", params={"balance": -500})
        assert resp.status_code == 200, resp.text

    expected = {old: 15, recent: 0, cancelled: 15, no_orders: 0, no_debt: 0}

    def owner_view() -> dict[int, tuple[bool, int]]:
        out = {}
        for cid in expected:
            data = manager.get(f"/api/mobile/{factory}/customers/{cid}").json()["data"]
            out[cid] = (data["isOverdue"], data["overdueDays"])
        return out

    def analytics_view() -> dict[int, tuple[bool, int]]:
        out = {}
        for cid in expected:
            data = manager.get(f"/api/mobile/{factory}/customers/{cid}/statistics").json()["data"]
            out[cid] = (data["isOverdue"], data["overdueDays"])
        return out

    want = {cid: (days > 0, days) for cid, days in expected.items()}
    # Each side learns the other's facts from events a moment later.
    assert wait_for(lambda: owner_view() == want, timeout=30), owner_view()
    assert wait_for(lambda: analytics_view() == want, timeout=30), analytics_view()
    assert owner_view() == analytics_view()

    overdue = sum(1 for is_overdue, _days in want.values() if is_overdue)
    risk = manager.get("/api/v1/analytics/credit-risk", headers={"X-Factory-Id": factory}).json()["data"]
    assert risk["overdue"] == overdue == 2
    assert risk["counts"]["RISK"] == 2          # 4 stars, 0.5 % used: at risk only by being overdue
    overall = manager.get(f"/api/mobile/{factory}/customers/overall-statistics").json()["data"]
    assert overall["atRiskCustomers"] == 2
    for cid, (is_overdue, days) in want.items():
        answer = admin.get(f"/api/v1/customers/{cid}/order-eligibility").json()["data"]
        assert (answer["is_overdue"], answer["overdue_days"]) == (is_overdue, days), cid

    # A new order is refused exactly for the customers both call overdue.
    for cid, (is_overdue, _days) in want.items():
        resp = finance.put(f"/api/v1/analytics/orders/NEW-{cid}", json=order(cid, 0, "PENDING"))
        if is_overdue:
            assert resp.status_code == 409, resp.text
            assert resp.json()["error_code"] == "CUSTOMER_OVERDUE"
            assert [m.split(":")[0] for m in resp.json()["errors"]["customer_id"]] == ["CUSTOMER_OVERDUE"]
        else:
            assert resp.status_code == 201, resp.text
