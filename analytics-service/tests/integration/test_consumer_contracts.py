"""Consumer-driven contracts (issue 23): every call another service records in
``<consumer>/contracts/pacts/analytics-service.json`` (customer-service's order summaries) is
replayed against analytics-service's real app and database, each on a tenant of its own with
its provider state set up here (crm_testing.http_contracts; format in the README)."""
from __future__ import annotations

import datetime as dt

from crm_testing.http_contracts import pacts_for, replay_all


def test_every_consumers_recorded_calls_are_answered_as_they_expect(app, customers, api_for, factory):
    def a_customer_with_orders(tenant):
        cid = customers.add(tenant)
        day = (dt.date.today() - dt.timedelta(days=3)).isoformat()
        recorded = api_for(roles=["finance_admin"], factories=[tenant]).put(
            "/api/v1/analytics/orders/PACT-1", json={"customer_id": str(cid), "order_date": day, "status": "COMPLETED",
                                                     "items": [{"product_name": "冻品猪肉", "quantity": 2, "unit_price": 100}]})
        assert recorded.status_code == 201, recorded.get_json()
        return {"customer_id": cid, "customer_id_text": str(cid)}

    assert {pact["consumer"] for pact in pacts_for("analytics-service")} >= {"customer-service"}
    tenants = iter(range(1, 1000))
    assert replay_all(app.test_client(), "analytics-service", {"a customer with orders": a_customer_with_orders},
                      lambda: f"{factory}{next(tenants)}") >= 1
