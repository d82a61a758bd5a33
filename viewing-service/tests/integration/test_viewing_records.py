"""/api/external/viewing-records in-process on real PostgreSQL, with the real customer-service
behind it: the record and customer upserts, defaults and the COALESCE rule, events, the 503
that writes nothing, property enrichment that never blocks, filters and the snapshot."""
from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
import sqlalchemy as sa

from crm_testing import free_port
from viewing_service.entrypoints.deps import core
from viewing_service.service_layer.events import CATALOG

URL = "/api/external/viewing-records"
SEED_EXAMPLE = {
    "userId": "agent_user_67890", "botId": "bot_002", "customer_name": "李四", "customer_phone": "13900139000",
    "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
    "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
    "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent", "notes": "客户很满意，准备签约",
}


def _rows(app, sql, **params):
    with core(app).engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _events(app, record_id):
    """The record's events in the outbox, each checked against its declared contract."""
    rows = _rows(app, "SELECT payload FROM outbox WHERE aggregate_id = :id ORDER BY id", id=str(record_id))
    events = [json.loads(r[0]) for r in rows]
    for event in events:
        CATALOG.validate(event)
    return events


def _customer(customer_service, factory, cid):
    from crm_testing import auth_headers
    resp = requests.get(f"{customer_service.url('customer')}/api/v1/customers/{cid}",
                        headers=auth_headers(factories=[factory]), timeout=10)
    return resp.json()["data"]


def test_seed_example_creates_record_and_customer_then_a_repeat_updates_both(app, client, headers_for, factory,
                                                                            customer_service):
    h = headers_for(factories=[factory])
    first = client.post(URL, json=SEED_EXAMPLE, headers=h)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    data = body["data"]
    assert body["success"] is True and body["message"] == "带看记录录入成功，客户已创建"
    assert data == {"viewing_record_id": data["viewing_record_id"], "customer_id": data["customer_id"],
                    "customer_action": "created", "viewing_record_action": "created",
                    "userId": "agent_user_67890", "external_property_enriched": False}
    customer = _customer(customer_service, factory, data["customer_id"])
    assert customer["user_id"] == "agent_user_67890" and customer["name"] == "李四"
    assert customer["primary_contact_phone"] == "13900139000"

    again = client.post(URL, json={**SEED_EXAMPLE, "commission": 3500}, headers=h).get_json()
    assert again["message"] == "带看记录更新成功，客户已更新"
    assert again["data"]["viewing_record_id"] == data["viewing_record_id"]
    assert again["data"]["customer_id"] == data["customer_id"]
    assert (again["data"]["customer_action"], again["data"]["viewing_record_action"]) == ("updated", "updated")

    events = _events(app, data["viewing_record_id"])
    assert [(e["event_type"], e["aggregate_version"]) for e in events] == [("viewing.recorded", 1), ("viewing.updated", 2)]
    recorded = events[0]
    assert recorded["aggregate_type"] == "viewing_record" and recorded["factory_id"] == factory
    assert recorded["producer"] == "viewing-service"
    for key, value in {"customer_id": data["customer_id"], "user_id": "agent_user_67890", "commission": 3000,
                       "viewing_status": 2, "viewing_feedback": 1, "viewing_time": "2024-08-15T14:00:00Z",
                       "property_address": "1栋2单元301室", "customer_name": "李四"}.items():
        assert recorded["data"][key] == value, key
    assert events[1]["data"]["commission"] == 3500 and events[1]["changed_fields"] == ["commission"]


def test_an_identical_repeat_writes_no_event(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    rid = client.post(URL, json=SEED_EXAMPLE, headers=h).get_json()["data"]["viewing_record_id"]
    for _ in range(2):
        assert client.post(URL, json=SEED_EXAMPLE, headers=h).get_json()["data"]["viewing_record_action"] == "updated"
    assert [e["event_type"] for e in _events(app, rid)] == ["viewing.recorded"]


def test_defaults_on_create_and_blanks_never_erase_on_update(client, headers_for, factory):
    h = headers_for(factories=[factory])
    before = time.time()
    client.post(URL, json={"userId": "u-def", "property_name": "星河湾", "property_address": "A座"}, headers=h)
    record = client.get(f"{URL}/u-def", headers=h).get_json()["data"]["data"][0]
    assert (record["room_type"], record["viewer_name"], record["viewing_status"], record["commission"],
            record["business_type"], record["viewing_feedback"]) == ("one_bedroom", "external", 1, 0, "whole_rent", None)
    import datetime as dt
    viewed = dt.datetime.fromisoformat(record["viewing_time"].replace("Z", "+00:00")).timestamp()
    assert before - 1 <= viewed <= time.time() + 1
    assert record["viewing_time"].endswith("Z") and len(record["viewing_time"]) == 24  # .000Z

    client.post(URL, json={"userId": "u-def", "property_name": "星河湾", "property_address": "A座",
                           "viewing_status": 4, "commission": 800, "notes": "看过"}, headers=h)
    client.post(URL, json={"userId": "u-def", "property_name": "星河湾", "property_address": "A座",
                           "viewing_status": None, "commission": None, "notes": "", "room_type": ""}, headers=h)
    record = client.get(f"{URL}/u-def", headers=h).get_json()["data"]["data"][0]
    assert (record["viewing_status"], record["commission"], record["notes"], record["room_type"]) == \
        (4, 800, "看过", "one_bedroom")


def test_without_an_address_the_property_name_identifies_the_record(client, headers_for, factory):
    h = headers_for(factories=[factory])
    a = client.post(URL, json={"userId": "u-noaddr", "property_name": "万科城"}, headers=h).get_json()["data"]
    b = client.post(URL, json={"userId": "u-noaddr", "property_name": "万科城"}, headers=h).get_json()["data"]
    c = client.post(URL, json={"userId": "u-noaddr", "property_name": "华润城"}, headers=h).get_json()["data"]
    assert a["viewing_record_id"] == b["viewing_record_id"] != c["viewing_record_id"]
    assert b["viewing_record_action"] == "updated"


def test_the_snapshot_of_name_and_phone_comes_from_the_customer_when_not_sent(client, headers_for, factory):
    h = headers_for(factories=[factory])
    client.post(URL, json={**SEED_EXAMPLE, "userId": "u-snap"}, headers=h)
    client.post(URL, json={"userId": "u-snap", "property_name": "华润城"}, headers=h)
    records = client.get(f"{URL}/u-snap", headers=h, query_string={"property_name": "华润"}).get_json()["data"]["data"]
    assert (records[0]["customer_name"], records[0]["customer_phone"]) == ("李四", "13900139000")


def test_customer_service_unreachable_gives_503_and_writes_nothing(pg_url, headers_for, factory):
    from ..conftest import close_app, make_app
    dead = make_app(pg_url, f"http://127.0.0.1:{free_port()}")
    started = time.monotonic()
    resp = dead.test_client().post(URL, json={**SEED_EXAMPLE, "userId": "u-503"},
                                   headers=headers_for(factories=[factory]))
    elapsed = time.monotonic() - started
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "1"
    body = resp.get_json()
    assert body["success"] is False and body["error"] == "CUSTOMER_SERVICE_UNAVAILABLE" and body["message"]
    assert 0.6 <= elapsed < 5  # three tries with 0.2 s and 0.4 s between them
    assert _rows(dead, "SELECT id FROM viewing_records WHERE factory_id = :f", f=factory) == []
    assert _rows(dead, "SELECT id FROM outbox WHERE payload LIKE :f", f=f"%{factory}%") == []
    close_app(dead)


def test_a_customer_service_refusal_is_a_400_naming_the_field(client, headers_for, factory, customer_service):
    from crm_testing import auth_headers
    h = headers_for(factories=[factory])
    cid = client.post(URL, json={**SEED_EXAMPLE, "userId": "u-gone"}, headers=h).get_json()["data"]["customer_id"]
    requests.delete(f"{customer_service.url('customer')}/api/v1/customers/{cid}",
                    headers=auth_headers(factories=[factory]), timeout=10).raise_for_status()
    resp = client.post(URL, json={**SEED_EXAMPLE, "userId": "u-gone", "property_address": "别处"}, headers=h)
    assert resp.status_code == 400
    assert "userId" in resp.get_json()["errors"] and "userId" in resp.get_json()["message"]


def test_invalid_values_get_400_naming_each_field(client, headers_for, factory):
    resp = client.post(URL, json={**SEED_EXAMPLE, "viewing_status": 7, "commission": -1, "customer_phone": "123"},
                       headers=headers_for(factories=[factory]))
    body = resp.get_json()
    assert resp.status_code == 400 and body["success"] is False and body["error"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"viewing_status", "commission", "customer_phone"}
    assert all(name in body["message"] for name in ("viewing_status", "commission", "customer_phone"))


def test_other_roles_are_refused(client, headers_for, factory):
    h = headers_for(roles=["viewer"], factories=[factory])
    assert client.post(URL, json=SEED_EXAMPLE, headers=h).status_code == 403
    assert client.get(f"{URL}/agent_user_67890", headers=h).status_code == 403


def test_concurrent_first_calls_make_one_record(app, headers_for, factory):
    h = headers_for(factories=[factory])

    def call(i):
        with app.test_client() as c:
            return c.post(URL, json={**SEED_EXAMPLE, "userId": "u-race", "commission": 100}, headers=h)

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(call, range(8)))
    assert all(r.status_code == 200 for r in responses), [r.get_json() for r in responses]
    assert len({r.get_json()["data"]["viewing_record_id"] for r in responses}) == 1
    assert [r.get_json()["data"]["viewing_record_action"] for r in responses].count("created") == 1
    assert [r.get_json()["data"]["customer_action"] for r in responses].count("created") == 1


# --- enrichment ------------------------------------------------------------------------------

def test_the_property_service_fills_what_was_not_given(enriching_app, headers_for, factory, property_mode):
    property_mode("ok")
    c = enriching_app.test_client()
    h = headers_for(factories=[factory])
    body = c.post(URL, json={**SEED_EXAMPLE, "cityName": "广州市"}, headers=h).get_json()
    assert body["message"] == "带看记录录入成功，客户已创建，已自动填入外部房源信息"
    assert body["data"]["external_property_enriched"] is True
    assert body["data"]["external_property_data"] == {"propertyAddrId": 789, "housingId": 101, "cityName": "深圳市",
                                                      "houseAreaName": "南山区", "advisorName": "王顾问",
                                                      "companyName": "万科地产"}
    record = c.get(f"{URL}/agent_user_67890", headers=h).get_json()["data"]["data"][0]
    assert (record["propertyAddrId"], record["housingId"], record["houseAreaName"], record["advisorName"],
            record["companyName"]) == (789, 101, "南山区", "王顾问", "万科地产")
    assert record["cityName"] == "广州市"  # given by the caller: kept


def test_a_slow_failing_or_empty_property_service_never_stops_the_record(enriching_app, headers_for, factory,
                                                                         property_mode):
    c = enriching_app.test_client()
    h = headers_for(factories=[factory])
    for mode in ("slow", "error", "empty"):
        property_mode(mode)
        started = time.monotonic()
        resp = c.post(URL, json={**SEED_EXAMPLE, "userId": f"u-{mode}"}, headers=h)
        assert resp.status_code == 200, (mode, resp.get_json())
        assert resp.get_json()["data"]["external_property_enriched"] is False
        assert "external_property_data" not in resp.get_json()["data"]
        assert resp.get_json()["message"] == "带看记录录入成功，客户已创建"
        assert time.monotonic() - started < 2.5, mode  # the 1 s lookup timeout bounds the wait


# --- queries -----------------------------------------------------------------------------------

def _seed_records(client, h, user):
    rows = [("万科城", "A1", "2024-01-01T00:30:00+08:00", 2, "whole_rent", "张三"),
            ("万科城二期", "A2", "2024-06-15T12:00:00Z", 1, "shared_rent", "external"),
            ("100%_花园", "A3", "2024-12-31T23:59:00+08:00", 2, "centralized", "external"),
            ("华润城", "A4", "2025-01-01T00:00:00+08:00", 3, "whole_rent", "external")]
    for name, address, when, status, business, viewer in rows:
        resp = client.post(URL, headers=h, json={"userId": user, "property_name": name, "property_address": address,
                                                 "viewing_time": when, "viewing_status": status,
                                                 "business_type": business, "viewer_name": viewer})
        assert resp.status_code == 200, resp.get_json()


def _names(client, h, user, **query):
    body = client.get(f"{URL}/{user}", headers=h, query_string=query).get_json()
    return [r["property_name"] for r in body["data"]["data"]], body["data"]


def test_filters_pages_and_the_inclusive_date_window_in_the_app_time_zone(client, headers_for, factory):
    h = headers_for(factories=[factory])
    _seed_records(client, h, "u-q")
    names, page = _names(client, h, "u-q")
    assert names == ["华润城", "100%_花园", "万科城二期", "万科城"]  # newest viewing first
    assert (page["total"], page["page"], page["pageSize"], page["totalPages"]) == (4, 1, 20, 1)
    assert _names(client, h, "u-q", property_name="万科")[0] == ["万科城二期", "万科城"]
    assert _names(client, h, "u-q", property_name="%")[0] == ["100%_花园"]  # LIKE wildcards are literal
    assert _names(client, h, "u-q", property_name="_")[0] == ["100%_花园"]
    assert _names(client, h, "u-q", viewing_status=2)[0] == ["100%_花园", "万科城"]
    assert _names(client, h, "u-q", business_type="whole_rent")[0] == ["华润城", "万科城"]
    assert _names(client, h, "u-q", viewer_name="张三")[0] == ["万科城"]
    # 2024-01-01 00:30 and 2024-12-31 23:59 Shanghai time are inside 2024; 2025-01-01 00:00 is not
    assert _names(client, h, "u-q", date_from="2024-01-01", date_to="2024-12-31")[0] == \
        ["100%_花园", "万科城二期", "万科城"]
    assert _names(client, h, "u-q", date_from="2025-01-01")[0] == ["华润城"]
    assert _names(client, h, "u-q", date_to="2023-12-31")[0] == []
    seed_query = dict(page=1, pageSize=10, property_name="万科", viewing_status=2, date_from="2024-01-01",
                      date_to="2024-12-31")
    names, page = _names(client, h, "u-q", **seed_query)
    assert names == ["万科城"] and (page["total"], page["pageSize"], page["totalPages"]) == (1, 10, 1)
    names, page = _names(client, h, "u-q", page=2, pageSize=3)
    assert names == ["万科城"] and (page["total"], page["page"], page["totalPages"]) == (4, 2, 2)
    assert _names(client, h, "u-q", pageSize=500)[1]["pageSize"] == 100


def test_bad_query_values_get_400_naming_the_parameter(client, headers_for, factory):
    h = headers_for(factories=[factory])
    for query, field in (({"viewing_status": 5}, "viewing_status"), ({"date_from": "2024-13-01"}, "date_from"),
                         ({"page": 0}, "page"), ({"business_type": "x"}, "business_type")):
        resp = client.get(f"{URL}/u-q", headers=h, query_string=query)
        assert resp.status_code == 400 and field in resp.get_json()["errors"], query


def test_records_are_tenant_scoped(client, headers_for, factory):
    client.post(URL, json=SEED_EXAMPLE, headers=headers_for(factories=[factory]))
    other = client.get(f"{URL}/agent_user_67890", headers=headers_for(factories=[factory + "X"])).get_json()
    assert other["data"]["total"] == 0


# --- snapshot and docs -----------------------------------------------------------------------

def test_the_snapshot_pages_every_tenant_by_id_with_versions(client, headers_for, factory):
    h = headers_for(factories=[factory])
    ids = [client.post(URL, json={**SEED_EXAMPLE, "userId": f"s-{i}"}, headers=h).get_json()["data"]["viewing_record_id"]
           for i in range(3)]
    client.post(URL, json={**SEED_EXAMPLE, "userId": "s-0", "commission": 1}, headers=h)
    admin = headers_for(roles=["admin"], factories=["*"])
    seen, after = {}, ids[0] - 1
    while after is not None:
        body = client.get("/internal/viewing-records/snapshot", headers=admin,
                          query_string={"after_id": after, "limit": 2}).get_json()
        assert body["success"] is True
        for item in body["data"]["items"]:
            seen[item["id"]] = item
        after = body["data"]["next_after_id"]
    assert set(ids) <= set(seen)
    assert seen[ids[0]]["version"] == 2 and seen[ids[0]]["commission"] == 1 and seen[ids[1]]["version"] == 1
    assert seen[ids[0]]["factory_id"] == factory and seen[ids[0]]["user_id"] == "s-0"
    for token in (headers_for(roles=["admin"], factories=[factory]), headers_for(roles=["integrator"])):
        assert client.get("/internal/viewing-records/snapshot", headers=token).status_code == 403


def test_openapi_documents_real_schemas(client):
    spec = client.get("/openapi.json").get_json()
    post = spec["paths"]["/api/external/viewing-records"]["post"]
    get = spec["paths"]["/api/external/viewing-records/{user_id}"]["get"]
    assert post.get("summary") and get.get("summary")
    request = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = spec["components"]["schemas"][request]["properties"]
    assert {"userId", "property_name", "housingId", "houseTypeId", "viewing_feedback"} <= set(props)
    assert {"page", "pageSize", "date_from", "date_to"} <= {p["name"] for p in get["parameters"] if p.get("in") == "query"}
    assert {"200", "400", "404", "503"} <= set(post["responses"]) and "404" in get["responses"]
    assert "/internal/viewing-records/snapshot" in spec["paths"]
    # The seed's own examples: the request, its answer, and the user query's answer.
    assert post["requestBody"]["content"]["application/json"]["example"] == SEED_EXAMPLE
    assert post["responses"]["200"]["content"]["application/json"]["example"]["message"] == \
        "带看记录录入成功，客户已创建，已自动填入外部房源信息"
    listed = get["responses"]["200"]["content"]["application/json"]["example"]["data"]
    assert (listed["total"], listed["pageSize"], listed["data"][0]["houseTypeId"]) == (1, 10, 601)
    changes = spec["paths"]["/api/external/viewing-records"]["get"]
    assert {"updated_since", "cursor", "pageSize"} <= {p.get("name") for p in changes["parameters"]}


def test_the_trace_id_travels_to_customer_service_the_property_service_and_the_events(
        enriching_app, headers_for, factory, property_service, property_mode, customer_service):
    property_mode("ok")
    trace = f"trace-{uuid.uuid4().hex[:12]}"
    resp = enriching_app.test_client().post(URL, json={**SEED_EXAMPLE, "userId": f"u-{trace}"},
                                            headers={**headers_for(factories=[factory]), "X-Request-ID": trace})
    assert resp.status_code == 200 and resp.headers["X-Trace-Id"] == trace
    assert _events(enriching_app, resp.get_json()["data"]["viewing_record_id"])[0]["trace_id"] == trace
    assert trace in [a["trace_id"] for a in requests.get(f"{property_service}/_requests", timeout=5).json()]
    engine = sa.create_engine(customer_service.db_urls["customer"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        payload = conn.execute(sa.text("SELECT payload FROM outbox WHERE payload LIKE :u"),
                               {"u": f"%u-{trace}%"}).scalar_one()
    engine.dispose()
    assert json.loads(payload)["trace_id"] == trace and json.loads(payload)["event_type"] == "customer.created"
