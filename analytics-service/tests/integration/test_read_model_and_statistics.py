"""The read model, order facts and every statistics surface, in-process on PostgreSQL."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from analytics_service.adapters import orm

from .conftest import customer_event, new_customer_id, viewing_event

TODAY = dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


def _days_ago(n: int) -> str:
    return (TODAY - dt.timedelta(days=n)).isoformat()


def _order(order_id, customer_id, days_ago, items, **kw):
    return {"order_id": order_id, "customer_id": str(customer_id), "order_date": _days_ago(days_ago),
            "items": items, **kw}


def test_events_build_the_read_model_idempotently_and_newest_version_wins(consumer, engine, factory, api_for):
    cid = new_customer_id()
    v1 = customer_event(factory, cid, 1, name="甲", rating=2)
    v2 = customer_event(factory, cid, 2, name="乙", rating=5)
    v3 = customer_event(factory, cid, 3, name="乙", rating=4, industry_type="零售")
    assert consumer.apply(v3) == "applied"
    assert consumer.apply(v1) == "stale" and consumer.apply(v2) == "stale"
    assert consumer.apply(v3) == "duplicate"
    with engine.connect() as conn:
        row = conn.execute(sa.select(orm.customers).where(orm.customers.c.id == cid)).one()
    assert (row.name, row.rating, row.industry_type, row.version) == ("乙", 4, "零售", 3)
    dist = api_for(factories=[factory]).get(f"/api/mobile/{factory}/customers/rating-distribution").get_json()
    assert dist == {"code": 200, "message": None, "data": {"1": 0, "2": 0, "3": 0, "4": 1, "5": 0}}


def test_overall_statistics_count_every_field_and_skip_deleted_customers(consumer, customers, factory, api_for):
    now = dt.datetime.now(dt.timezone.utc)
    old_debt = (now - dt.timedelta(days=45)).isoformat()
    fresh_debt = (now - dt.timedelta(days=2)).isoformat()
    rows = [
        dict(type="company", industry_type="餐饮", rating=5, credit_limit=100000, current_balance=-15000,
             debt_since=fresh_debt, status="active"),
        dict(type="individual", industry_type="零售", rating=1, credit_limit=0, current_balance=0, status="inactive"),
        dict(type="dealer", industry_type=None, rating=4, credit_limit=50000, current_balance=-10000,
             debt_since=old_debt, payment_terms=30, status="active", created_at="2020-01-01T00:00:00Z"),
        dict(type=None, industry_type="餐饮", rating=3, credit_limit=20000, current_balance=500, status="frozen"),
    ]
    for fields in rows:
        consumer.apply(customer_event(factory, new_customer_id(), 1, created_at=now.isoformat(), **{
            k: v for k, v in fields.items() if k != "created_at"}) if "created_at" not in fields
            else customer_event(factory, new_customer_id(), 1, **fields))
    gone = new_customer_id()
    customers.add(factory, gone, rating=5)
    consumer.apply(customer_event(factory, gone, 2, rating=5, deleted_at=now.isoformat()))

    body = api_for(roles=["sales_admin"], factories=[factory]).get(
        f"/api/mobile/{factory}/customers/overall-statistics").get_json()
    assert body["code"] == 200
    assert body["data"] == {
        "totalCustomers": 4, "activeCustomers": 2, "inactiveCustomers": 2, "newCustomersThisMonth": 3,
        "typeDistribution": {"企业": 1, "个人": 1, "经销商": 1, "零售": 0, "其他": 1},
        "industryDistribution": {"餐饮": 2, "其他": 1, "零售": 1},
        "ratingDistribution": {"5": 1, "4": 1, "3": 1, "2": 0, "1": 1},
        "financialSummary": {"totalCreditLimit": 170000, "totalCurrentBalance": -24500,
                             "totalAvailableCredit": 170000 - 15000 - 10000 - 500,
                             "customersWithOutstanding": 2,
                             "avgCreditUtilization": round((15 + 20 + 2.5) / 3, 2)},
        "vipCustomers": 1, "atRiskCustomers": 2,
    }
    api = api_for(roles=["factory_admin"], factories=[factory])
    assert api.get(f"/api/mobile/{factory}/customers/type-distribution").get_json()["data"] == \
        {"企业": 1, "个人": 1, "经销商": 1, "零售": 0, "其他": 1}
    assert api.get(f"/api/mobile/{factory}/customers/industry-distribution").get_json()["data"] == \
        {"餐饮": 2, "其他": 1, "零售": 1}
    risk = api.get("/api/v1/analytics/credit-risk", headers={"X-Factory-Id": factory}).get_json()["data"]
    # 5★ 15% used -> excellent; 1★ -> risk; 45 days in debt with 30 days terms -> overdue 15 days -> risk;
    # 3★ with a positive balance (2.5% of its limit) -> normal.
    assert risk["counts"] == {"EXCELLENT": 1, "NORMAL": 1, "RISK": 2, "HIGH_RISK": 0} and risk["total"] == 4


def test_orders_feed_customer_statistics_history_vip_and_summaries(consumer, customers, factory, api_for):
    buyer, other, star = new_customer_id(), new_customer_id(), new_customer_id()
    customers.add(factory, buyer, rating=4, credit_limit=10000, current_balance=-2500)
    customers.add(factory, other, rating=3)
    customers.add(factory, star, rating=5)
    finance = api_for(roles=["finance_admin"], factories=[factory])
    batch = [
        _order("A-1", buyer, 90, [{"product_name": "猪肉", "quantity": 10, "unit_price": 50},
                                 {"product_name": "牛肉", "quantity": 2, "unit_price": 100}],
               paid_date=_days_ago(50)),                                   # due 60 days ago: paid 10 days late
        _order("A-2", buyer, 30, [{"product_name": "猪肉", "quantity": 4, "unit_price": 50}],
               paid_date=_days_ago(20), due_date=_days_ago(10)),           # on time, 10 days to pay
        _order("A-3", buyer, 45, [{"product_name": "鸡肉", "quantity": 1, "unit_price": 30}],
               status="SHIPPED"),                                          # unpaid, due 15 days ago
        _order("A-4", buyer, 5, [{"product_name": "鸭肉", "quantity": 1, "unit_price": 999}], status="CANCELLED"),
        _order("B-1", other, 10, [{"product_name": "猪肉", "quantity": 1, "unit_price": 80}], total_amount=75),
    ]
    resp = finance.post("/api/v1/analytics/orders", json={"orders": batch})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["data"]["created"] == 5 and resp.get_json()["data"]["updated"] == 0
    # Same order again, changed while still open: an update, never a duplicate.
    batch[2] = _order("A-3", buyer, 45, [{"product_name": "鸡肉", "quantity": 2, "unit_price": 30}], status="SHIPPED")
    again = finance.post("/api/v1/analytics/orders", json={"orders": [batch[2]]}).get_json()["data"]
    assert (again["created"], again["updated"]) == (0, 1)
    assert [(o["order_id"], o["outcome"], o["version"]) for o in again["orders"]] == [("A-3", "updated", 2)]

    viewer = api_for(roles=["viewer"], factories=[factory])
    stats = viewer.get(f"/api/mobile/{factory}/customers/{buyer}/statistics").get_json()["data"]
    revenue = 700 + 200 + 60
    assert stats["customerId"] == str(buyer)
    assert (stats["totalOrders"], stats["totalRevenue"], stats["avgOrderAmount"]) == (3, revenue, 320)
    assert (stats["firstOrderDate"], stats["lastOrderDate"], stats["daysSinceFirstOrder"]) == (_days_ago(90), _days_ago(30), 90)
    assert stats["orderFrequency"] == 1 and stats["totalProducts"] == 3
    assert stats["topProducts"] == [{"productName": "猪肉", "quantity": 14, "revenue": 700},
                                    {"productName": "牛肉", "quantity": 2, "revenue": 200},
                                    {"productName": "鸡肉", "quantity": 2, "revenue": 60}]
    assert stats["paymentStats"] == {"onTimePaymentRate": round(100 / 3, 2), "avgPaymentDays": 25, "maxOverdueDays": 15}
    assert stats["creditUtilization"] == 25
    assert stats["customerLifetimeValue"] == revenue + revenue / 3 * 12

    history = viewer.get(f"/api/mobile/{factory}/customers/{buyer}/purchase-history").get_json()["data"]
    assert [o["orderId"] for o in history] == ["A-4", "A-2", "A-3", "A-1"]
    assert history[3]["products"] == [
        {"productName": "猪肉", "quantity": 10, "unitPrice": 50, "subtotal": 500},
        {"productName": "牛肉", "quantity": 2, "unitPrice": 100, "subtotal": 200}]
    assert history[0]["status"] == "CANCELLED" and history[3]["paymentStatus"] == "PAID"

    vip = api_for(roles=["sales_admin"], factories=[factory]).get(
        f"/api/mobile/{factory}/customers/vip", query_string={"limit": 5}).get_json()["data"]
    assert [(v["id"], v["totalRevenue"]) for v in vip] == [(str(buyer), revenue), (str(other), 75), (str(star), 0)]

    summaries = viewer.post("/api/v1/analytics/order-summaries", json={"customer_ids": [str(buyer), str(star), "999"]},
                            headers={"X-Factory-Id": factory}).get_json()
    assert summaries["success"] is True and summaries["code"] == 2000
    assert summaries["data"] == {
        str(buyer): {"totalOrders": 3, "totalRevenue": revenue, "lastOrderDate": _days_ago(30),
                     "customerLifetimeValue": revenue + revenue / 3 * 12},
        str(star): {"totalOrders": 0, "totalRevenue": 0, "lastOrderDate": None, "customerLifetimeValue": None}}


def test_order_batches_are_checked_before_anything_is_written(factory, api_for):
    finance = api_for(roles=["finance_admin"], factories=[factory])
    too_many = [_order(f"X-{i}", 1, 1, [{"product_name": "p", "quantity": 1, "unit_price": 1}]) for i in range(1001)]
    resp = finance.post("/api/v1/analytics/orders", json={"orders": too_many})
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == {"orders": ["每批最多 1000 个订单，本次提交了 1001 个"]}
    bad = [_order("D-1", 1, 1, [{"product_name": "p", "quantity": 2, "unit_price": 5, "subtotal": 11}],
                  payment_status="PAID"),
           _order("D-1", 1, 1, [])]
    resp = finance.post("/api/v1/analytics/orders", json={"orders": bad})
    assert resp.status_code == 400
    assert set(resp.get_json()["errors"]) == {"orders.0.items.0.subtotal", "orders.0.paid_date", "orders.1.order_id"}
    assert api_for(roles=["sales_admin"], factories=[factory]).post(
        "/api/v1/analytics/orders", json={"orders": [_order("E-1", 1, 1, [])]}).status_code == 403


def test_tenant_isolation_roles_and_unknown_customers(consumer, customers, factory, api_for):
    cid = new_customer_id()
    customers.add(factory, cid)
    stranger = api_for(roles=["admin"], factories=["OTHER"])
    assert stranger.get(f"/api/mobile/OTHER/customers/{cid}/statistics").status_code == 404
    assert stranger.get(f"/api/mobile/{factory}/customers/{cid}/statistics").status_code == 403
    viewer = api_for(roles=["viewer"], factories=[factory])
    denied = viewer.get(f"/api/mobile/{factory}/customers/overall-statistics")
    assert denied.status_code == 403 and denied.get_json()["code"] == 403
    assert viewer.get(f"/api/mobile/{factory}/customers/{cid}/statistics").status_code == 200
    assert viewer.get(f"/api/mobile/{factory}/customers/{cid + 1}/purchase-history").get_json()["code"] == 404
    other_domain = api_for(roles=["admin"], factories=[factory], domains=["ELSEWHERE"])
    assert other_domain.get(f"/api/mobile/{factory}/customers/{cid}/statistics").status_code == 404
    assert api_for(roles=["analyst"], factories=[factory]).get(
        f"/api/mobile/{factory}/customers/vip", query_string={"limit": 101}).status_code == 400


def test_external_statistics_filter_by_local_calendar_dates(consumer, customers, factory, api_for):
    unpaid, paid, lead = new_customer_id(), new_customer_id(), new_customer_id()
    customers.add(factory, unpaid, lead_status=4)
    customers.add(factory, paid, lead_status=5)
    customers.add(factory, lead, lead_status=1)
    # 2026-03-01 00:30 in Shanghai is 2026-02-28 16:30 UTC: it belongs to March.
    consumer.apply(viewing_event(factory, f"{factory}-1", 1, customer_id=unpaid, viewing_time="2026-02-28T16:30:00Z",
                                 commission=100.5))
    consumer.apply(viewing_event(factory, f"{factory}-2", 1, customer_id=paid, viewing_time="2026-02-28T15:59:00Z",
                                 commission=200))
    consumer.apply(viewing_event(factory, f"{factory}-2", 2, customer_id=paid, viewing_time="2026-02-28T15:59:00Z",
                                 commission=250, viewing_status=4))
    api = api_for(roles=["integrator"], factories=[factory])
    everything = api.get("/api/external/statistics").get_json()
    assert everything == {"success": True, "message": "统计数据获取成功", "data": {
        "viewing_count": 2, "completed_unpaid_count": 1, "completed_paid_count": 1, "total_commission": 350.5,
        "period": {"date_from": None, "date_to": None}}}
    march = api.get("/api/external/statistics", query_string={"date_from": "2026-03-01", "date_to": "2026-03-31"}).get_json()
    assert march["data"] == {"viewing_count": 1, "completed_unpaid_count": 1, "completed_paid_count": 0,
                             "total_commission": 100.5, "period": {"date_from": "2026-03-01", "date_to": "2026-03-31"}}
    bad = api.get("/api/external/statistics", query_string={"date_from": "2026-04-01", "date_to": "2026-03-01"})
    assert bad.status_code == 400 and bad.get_json()["success"] is False
    assert api_for(roles=["sales_admin"], factories=[factory]).get("/api/external/statistics").status_code == 403


def test_rating_scores_and_rfm_segments_of_a_tenant(consumer, customers, factory, api_for):
    a, b, c, idle = (new_customer_id() for _ in range(4))
    for cid in (a, b, c, idle):
        customers.add(factory, cid)
    orders = [
        _order("R-1", a, 400, [{"product_name": "p", "quantity": 1, "unit_price": 3000}], paid_date=_days_ago(390)),
        _order("R-6", a, 100, [{"product_name": "p", "quantity": 1, "unit_price": 3000}], paid_date=_days_ago(80)),
        _order("R-2", a, 3, [{"product_name": "p", "quantity": 1, "unit_price": 3000}]),
        _order("R-3", b, 60, [{"product_name": "p", "quantity": 1, "unit_price": 600}], paid_date=_days_ago(20)),
        _order("R-5", b, 20, [{"product_name": "p", "quantity": 1, "unit_price": 600}]),
        _order("R-4", c, 200, [{"product_name": "p", "quantity": 1, "unit_price": 100}], paid_date=_days_ago(150)),
    ]
    recorded = api_for(roles=["factory_admin"], factories=[factory]).post("/api/v1/analytics/orders",
                                                                          json={"orders": orders})
    assert recorded.status_code == 200
    api = api_for(roles=["analyst"], factories=[factory])
    score = api.get(f"/api/v1/analytics/customers/{a}/rating-score").get_json()["data"]
    # Factory averages over the three buyers (the idle customer has no orders).
    avg_rev = (9000 + 1200 + 100) / 3
    freq_a = 3 / (400 / 30)
    avg_freq = (freq_a + 2 / (60 / 30) + 1 / (200 / 30)) / 3
    assert score["parts"] == {"order_amount": round(9000 / avg_rev * 30, 2), "payment_timeliness": 40,
                              "order_frequency": round(freq_a / avg_freq * 20, 2),
                              "cooperation_years": round(400 / 365 * 2, 2)}
    assert score["total"] == round(sum(score["parts"].values()), 2)
    assert score["stars"] == 5 and score["customer_id"] == str(a)
    listed = api.get("/api/v1/analytics/rating-scores", query_string={"page_size": 10}).get_json()["data"]
    assert listed["total"] == 4 and listed["items"][0]["customer_id"] == str(a)
    assert listed["items"][-1]["customer_id"] == str(idle) and listed["items"][-1]["total"] == 0

    rfm = api.get("/api/v1/analytics/rfm").get_json()["data"]
    by_id = {i["customer_id"]: i for i in rfm["items"]}
    assert (by_id[str(a)]["r_score"], by_id[str(a)]["f_score"], by_id[str(a)]["m_score"]) == (3, 3, 3)
    assert by_id[str(a)]["segment"] == "重要价值客户" and by_id[str(c)]["segment"] == "流失预警客户"
    assert by_id[str(b)]["segment"] == "一般客户" and by_id[str(a)]["recency_days"] == 3
    assert rfm["segments"] == {"重要价值客户": 1, "重要保持客户": 0, "重要发展客户": 0, "一般客户": 1, "流失预警客户": 1}
    assert rfm["customers_without_orders"] == 1 and rfm["total"] == 3
    only = api.get("/api/v1/analytics/rfm", query_string={"segment": "流失预警客户"}).get_json()["data"]
    assert [i["customer_id"] for i in only["items"]] == [str(c)]


def test_order_events_from_another_producer_apply_by_version_and_our_own_are_skipped(consumer, customers, factory, api_for):
    from crm_common.events import make_event
    cid = new_customer_id()
    customers.add(factory, cid)

    def order_event(version, amount, producer="erp"):
        return make_event(event_type="order.recorded", producer=producer, aggregate_type="order",
                          aggregate_id=f"erp-{factory}-9", aggregate_version=version, factory_id=factory,
                          data={"order_id": "ERP-9", "factory_id": factory, "customer_id": str(cid),
                                "order_date": _days_ago(3), "status": "COMPLETED", "payment_status": "UNPAID",
                                "items": [{"product_name": "p", "quantity": 1, "unit_price": amount}]})
    consumer.apply(order_event(2, 200))
    consumer.apply(order_event(1, 100))
    consumer.apply(order_event(3, 999, producer="analytics-service"))
    stats = api_for(factories=[factory]).get(f"/api/mobile/{factory}/customers/{cid}/statistics").get_json()["data"]
    assert (stats["totalOrders"], stats["totalRevenue"]) == (1, 200)


def test_freshness_reports_each_source(consumer, factory, api_for):
    consumer.apply(customer_event(factory, new_customer_id(), 1))
    body = api_for(roles=["analyst"]).get("/api/v1/analytics/freshness").get_json()["data"]
    sources = {s["producer"]: s for s in body["sources"]}
    assert set(sources) == {"customer-service", "viewing-service", "orders"}
    assert sources["customer-service"]["last_event_type"] == "customer.created"
    assert sources["customer-service"]["apply_lag_seconds"] >= 0 and sources["customer-service"]["events_applied"] >= 1
    assert body["consumer"] is None  # no broker in this test


def test_vip_takes_the_revenue_top_then_five_star_customers_without_revenue(consumer, customers, factory, api_for):
    buyers = [new_customer_id() for _ in range(4)]
    stars = sorted(new_customer_id() for _ in range(2))
    for n, cid in enumerate(buyers):
        customers.add(factory, cid, rating=5 if n == 0 else 3)
    for cid in stars:
        customers.add(factory, cid, rating=5)
    amounts = [100, 300, 300, 50]          # buyers[1] and buyers[2] tie on revenue
    finance = api_for(roles=["finance_admin"], factories=[factory])
    finance.post("/api/v1/analytics/orders", json={"orders": [
        _order(f"V-{n}", cid, 5, [{"product_name": "p", "quantity": 1, "unit_price": amount}], status="CONFIRMED")
        for n, (cid, amount) in enumerate(zip(buyers, amounts))]})
    manager = api_for(roles=["sales_admin"], factories=[factory])
    top = lambda limit: [(v["id"], v["totalRevenue"]) for v in manager.get(  # noqa: E731
        f"/api/mobile/{factory}/customers/vip", query_string={"limit": limit}).get_json()["data"]]
    tied = sorted(buyers[1:3])
    assert top(2) == [(str(tied[0]), 300), (str(tied[1]), 300)]
    assert top(10) == [(str(tied[0]), 300), (str(tied[1]), 300), (str(buyers[0]), 100), (str(buyers[3]), 50),
                       (str(stars[0]), 0), (str(stars[1]), 0)]
    # Cancelling the best order moves its buyer down, through the totals kept per customer.
    assert finance.patch("/api/v1/analytics/orders/V-1", json={"status": "CANCELLED"}).status_code == 200
    assert top(1) == [(str(buyers[2]), 300)]
