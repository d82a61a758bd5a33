"""The optional Redis read cache of customer detail, on real Redis and PostgreSQL:
entries are per tenant, every write (whatever the endpoint) invalidates, and a Redis
outage only means reading from the database."""
from __future__ import annotations

import uuid

import pytest
import redis

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET, free_port
from customer_service.bootstrap import service_of

REDIS_URL = "redis://127.0.0.1:6379/0"


def _app(pg_url, **env):
    from customer_service.app import create_app
    return create_app(Settings.from_env("customer", {
        "CUSTOMER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET, **env}))


@pytest.fixture(scope="module")
def prefix():
    value = f"test-{uuid.uuid4().hex[:8]}:"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{value}*"):
        client.delete(key)


@pytest.fixture(scope="module")
def cached_app(pg_url, prefix):
    return _app(pg_url, REDIS_URL=REDIS_URL, CUSTOMER_CACHE_PREFIX=prefix, CUSTOMER_CACHE_TTL="300")


@pytest.fixture
def rds():
    return redis.Redis.from_url(REDIS_URL, decode_responses=True)


def _create(client, h, name, **fields):
    resp = client.post("/api/v1/customers", headers=h, json={"customer": {"name": name, **fields}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["data"]["id"]


def test_detail_is_cached_per_tenant_and_served_from_the_cache(cached_app, prefix, rds, headers_for, factory):
    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "缓存客户")
    first = client.get(f"/api/v1/customers/{cid}", headers=h)
    key = f"{prefix}customer:{factory}:{cid}"
    assert first.status_code == 200 and rds.ttl(key) > 0
    # What the cache holds is what is served: prove it by planting a marker in the entry.
    planted = rds.get(key).replace('"notes": null', '"notes": "来自缓存"')
    rds.set(key, planted, ex=60)
    second = client.get(f"/api/v1/customers/{cid}", headers=h)
    assert second.get_json()["data"]["notes"] == "来自缓存"
    assert {k: v for k, v in second.get_json()["data"].items() if k not in ("notes", "risk_level")} == \
        {k: v for k, v in first.get_json()["data"].items() if k not in ("notes", "risk_level")}


def test_no_stale_read_after_an_update_through_any_endpoint(cached_app, headers_for, factory):
    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "不陈旧")
    url = f"/api/v1/customers/{cid}"
    assert client.get(url, headers=h).get_json()["data"]["notes"] is None
    assert client.put(url, headers=h, json={"notes": "单个更新"}).status_code == 200
    assert client.get(url, headers=h).get_json()["data"]["notes"] == "单个更新"
    assert client.post("/api/v1/customers/bulk-update/", headers=h,
                       json={"customers": [{"id": cid, "notes": "批量更新"}]}).status_code == 200
    assert client.get(url, headers=h).get_json()["data"]["notes"] == "批量更新"
    assert client.patch(url + "/status", headers=h, json={"status": "inactive"}).status_code == 200
    assert client.get(url, headers=h).get_json()["data"]["status"] == "inactive"
    gid = client.post("/api/v1/customer-groups", headers=h, json={"name": f"组{factory}"}).get_json()["data"]["id"]
    assert client.put(f"/api/v1/customer-groups/{gid}/members", headers=h, json={"customer_ids": [cid]}).status_code == 200
    assert [g["id"] for g in client.get(url, headers=h).get_json()["data"]["groups"]] == [gid]
    assert client.post("/api/v1/customers/bulk-delete/", headers=h, json={"ids": [cid]}).status_code == 200
    assert client.get(url, headers=h).status_code == 404


def test_a_rolled_back_write_does_not_disturb_the_cached_entry(cached_app, prefix, rds, headers_for, factory):
    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "回滚")
    client.get(f"/api/v1/customers/{cid}", headers=h)
    assert client.post("/api/v1/customers/bulk-update/?dry_run=true", headers=h,
                       json={"customers": [{"id": cid, "notes": "演练"}]}).status_code == 200
    assert '"name": "回滚"' in rds.get(f"{prefix}customer:{factory}:{cid}")
    assert client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]["notes"] is None


def test_cached_customer_stays_invisible_to_other_domains_and_tenants(cached_app, headers_for, factory):
    client = cached_app.test_client()
    admin = headers_for(factories=[factory])
    cid = _create(client, admin, "冷链缓存", business_domain="COLD_CHAIN")
    assert client.get(f"/api/v1/customers/{cid}", headers=admin).status_code == 200  # now cached
    agent = headers_for(roles=["viewer"], factories=[factory], domains=["GENERAL_WAREHOUSING"])
    assert client.get(f"/api/v1/customers/{cid}", headers=agent).status_code == 404
    stranger = headers_for(factories=["O" + factory])
    assert client.get(f"/api/v1/customers/{cid}", headers=stranger).status_code == 404


def test_redis_down_serves_from_the_database(pg_url, headers_for, factory, capfd):
    app = _app(pg_url, REDIS_URL=f"redis://127.0.0.1:{free_port()}/0")
    client, h = app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "无缓存")
    assert client.put(f"/api/v1/customers/{cid}", headers=h, json={"notes": "仍可写"}).status_code == 200
    resp = client.get(f"/api/v1/customers/{cid}", headers=h)
    assert resp.status_code == 200 and resp.get_json()["data"]["notes"] == "仍可写"
    assert "cache_unavailable" in capfd.readouterr().out
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["checks"]["cache"]["ok"] is False


def test_a_reader_that_loaded_before_a_write_cannot_put_the_old_state_back(cached_app, headers_for, factory):
    from customer_service.domain.model import Customer
    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cache = service_of(cached_app).cache
    cid = _create(client, h, "竞态")
    lookup = cache.get(factory, cid)                 # a reader misses ...
    stale = Customer(id=cid, factory_id=factory, name="竞态", notes=None, customer_code="X", version=1)
    assert client.put(f"/api/v1/customers/{cid}", headers=h, json={"notes": "新值"}).status_code == 200
    cache.fill(stale, lookup.stamp)                  # ... and fills after the write committed
    assert client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]["notes"] == "新值"
    assert client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]["notes"] == "新值"


def test_a_partially_failed_bulk_update_still_invalidates_its_successes(cached_app, headers_for, factory):
    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "部分成功")
    client.get(f"/api/v1/customers/{cid}", headers=h)  # cached
    resp = client.post("/api/v1/customers/bulk-update/", headers=h, json={"customers": [
        {"id": cid, "notes": "成功的那条"}, {"id": cid + 100000, "notes": "失败的那条"}]})
    assert resp.status_code == 207
    assert client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]["notes"] == "成功的那条"


def test_the_viewing_consumer_invalidates_the_customers_it_changes(cached_app, pg_url, prefix, headers_for, factory):
    from crm_common.db import make_session_factory
    from crm_common.events import make_event
    from customer_service.bootstrap import bootstrap
    from customer_service.entrypoints.consumers import handlers

    client, h = cached_app.test_client(), headers_for(factories=[factory])
    cid = _create(client, h, "带看缓存")
    assert client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]["viewing_count"] == 0  # cached
    # What the consume command wires: the handlers, and a unit of work joining its transaction.
    joining = bootstrap(Settings.from_env("customer", {
        "CUSTOMER_DATABASE_URL": pg_url, "REDIS_URL": REDIS_URL, "CUSTOMER_CACHE_PREFIX": prefix}),
        database=False).joining
    event = make_event(event_type="viewing.recorded", producer="viewing-service", aggregate_type="viewing_record",
                       aggregate_id=f"vr-{uuid.uuid4().hex[:8]}", aggregate_version=1, factory_id=factory,
                       data={"customer_id": cid, "factory_id": factory, "commission": 300, "viewing_status": 2,
                             "viewing_feedback": 0})
    session = make_session_factory(service_of(cached_app).engine)()
    with session.begin():
        handlers(joining(session), event)
    session.close()
    detail = client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]
    assert detail["viewing_count"] == 1 and detail["total_commission"] == 300
