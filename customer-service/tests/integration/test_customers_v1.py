"""/api/v1/customers on real PostgreSQL: identity rules held by the database, events
written in the same transaction, optimistic concurrency."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from customer_service.bootstrap import service_of


def _create(client, headers, name, **fields):
    return client.post("/api/v1/customers", json={"customer": {"name": name, **fields}}, headers=headers)


def test_create_writes_customer_and_its_event_in_one_transaction(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    resp = _create(client, h, "事件客户", primary_contact_phone="13900139000")
    assert resp.status_code == 201
    cid = resp.get_json()["data"]["id"]
    with service_of(app).engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT event_type, aggregate_version, payload FROM outbox "
                                    "WHERE aggregate_id = :id ORDER BY id"), {"id": str(cid)}).all()
    assert [(r[0], r[1]) for r in rows] == [("customer.created", 1)]
    event = json.loads(rows[0][2])
    assert event["factory_id"] == factory and event["data"]["name"] == "事件客户"
    assert event["actor"]["sub"] == "u-test" and event["producer"] == "customer-service"


def test_failed_create_leaves_no_customer_company_or_event(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    assert _create(client, h, "占位").status_code == 201
    resp = client.post("/api/v1/customers", headers=h, json={
        "customer": {"name": "占位"}, "company": {"company_code": f"C-{factory}", "name": "新公司"}})
    assert resp.status_code == 409 and resp.get_json()["error_code"] == "CUSTOMER_DUPLICATED"
    with service_of(app).engine.connect() as conn:
        companies = conn.execute(sa.text("SELECT count(*) FROM companies WHERE factory_id = :f"), {"f": factory}).scalar()
        events = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE payload LIKE :f"), {"f": f"%{factory}%"}).scalar()
    assert companies == 0 and events == 1


def test_unique_name_is_enforced_by_the_database_under_concurrency(app, client, headers_for, factory):
    h = headers_for(factories=[factory])

    def attempt(_):
        with app.test_client() as c:
            return _create(c, h, "并发客户").status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(attempt, range(8)))
    assert codes.count(201) == 1 and codes.count(409) == 7


def test_name_is_reusable_after_soft_delete(client, headers_for, factory):
    h = headers_for(factories=[factory])
    cid = _create(client, h, "可复用").get_json()["data"]["id"]
    assert client.delete(f"/api/v1/customers/{cid}", headers=h).status_code == 200
    assert _create(client, h, "可复用").status_code == 201


def test_update_without_if_match_still_cannot_lose_a_concurrent_write(client, headers_for, factory):
    h = headers_for(factories=[factory])
    cid = _create(client, h, "版本").get_json()["data"]["id"]
    first = client.put(f"/api/v1/customers/{cid}", json={"notes": "a"}, headers=h)
    second = client.put(f"/api/v1/customers/{cid}", json={"notes": "b"}, headers=h)
    assert first.get_json()["data"]["version"] == 2 and second.get_json()["data"]["version"] == 3


def test_domain_scope_filters_lists_and_refuses_foreign_domains(client, headers_for, factory):
    admin = headers_for(factories=[factory])
    _create(client, admin, "仓储客户", business_domain="GENERAL_WAREHOUSING")
    _create(client, admin, "冷链客户", business_domain="COLD_CHAIN")
    # ROLE_STD_AGENT maps to GENERAL_WAREHOUSING by the default mapping table (seed 003)
    agent = headers_for(roles=["sales_admin", "ROLE_STD_AGENT"], factories=[factory], domains=[])
    names = [c["name"] for c in client.get("/api/v1/customers", headers=agent).get_json()["data"]["items"]]
    assert names == ["仓储客户"]
    refused = _create(client, agent, "越权客户", business_domain="COLD_CHAIN")
    assert refused.status_code == 403 and refused.get_json()["error_code"] == "FORBIDDEN"


def test_updated_at_is_the_writing_transactions_start_on_the_database_clock(app, client, headers_for, factory):
    """What keyset pages of incremental sync rely on (crm_common.paging): every row one
    transaction writes carries the same instant, taken from PostgreSQL's ``now()``."""
    h = headers_for(factories=[factory])
    created = client.post("/api/v1/customers/bulk-create/", headers=h,
                          json={"customers": [{"name": f"时钟{n}"} for n in range(3)]}).get_json()["data"]
    stamps = {(c["created_at"], c["updated_at"]) for c in created["created_customers"]}
    assert len(stamps) == 1 and len({*next(iter(stamps))}) == 1
    with service_of(app).engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT DISTINCT updated_at FROM customers WHERE factory_id = :f"),
                              {"f": factory}).scalars().all()
        outbox = conn.execute(sa.text("SELECT min(created_at) FROM outbox WHERE payload LIKE :p"),
                              {"p": f'%"factory_id":"{factory}"%'}).scalar()
    assert len(stored) == 1 and stored[0] <= outbox  # the transaction began before it wrote its events
    cid = created["created_customers"][0]["id"]
    updated = client.put(f"/api/v1/customers/{cid}", headers=h, json={"notes": "后来"}).get_json()["data"]
    assert updated["updated_at"] > updated["created_at"]


def test_the_snapshot_carries_each_customer_as_its_events_do(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    cid = _create(client, h, "快照", credit_limit=1234.5).get_json()["data"]["id"]
    resp = client.get("/internal/customers/snapshot", query_string={"after_id": cid - 1, "limit": 1},
                      headers=headers_for())
    assert resp.status_code == 200, resp.get_json()
    [item] = resp.get_json()["data"]["items"]
    with service_of(app).engine.connect() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM outbox WHERE aggregate_id = :id"), {"id": str(cid)}).scalar()
    assert item == json.loads(payload)["data"]
    assert client.get("/internal/customers/snapshot", headers=headers_for(factories=[factory])).status_code == 403
