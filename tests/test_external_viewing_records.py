"""Issue 6, seed 002 带看记录 through the gateway on the running set: the seed's curl examples
replayed field by field, repeats, 400s naming the field, enrichment by a (fake, real-process)
property service that may be slow or down, customer-service down -> 503 and nothing written,
and a burst of 200 records whose statistics reach every customer through the events."""
from __future__ import annotations

import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
import requests

from crm_testing import Process, Stack, auth_headers, base_env, free_port, repo_root

pytestmark = pytest.mark.system

URL = "/api/external/viewing-records"

# The seed's curl example, verbatim.
SEED_RECORD = {
    "userId": "agent_user_67890", "botId": "bot_002", "customer_name": "李四", "customer_phone": "13900139000",
    "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
    "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
    "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent", "notes": "客户很满意，准备签约",
}
# The record of the seed's query example (its every field but id, customer_id and the timestamps).
SEED_LISTED = {
    "viewing_time": "2024-08-15T14:00:00.000Z", "property_name": "万科城", "property_address": "1栋2单元301室",
    "room_type": "two_bedroom", "room_tag": "loft", "viewer_name": "external", "viewing_status": 2,
    "commission": 3000, "viewing_feedback": 1, "business_type": "whole_rent", "notes": "客户很满意，准备签约",
    "customer_name": "李四", "customer_phone": "13900139000", "userId": "agent_user_67890", "botId": "bot_002",
    "housingId": 101, "houseAreaId": 201, "houseAreaName": "南山区", "cityId": 301, "cityName": "深圳市",
    "propertyAddrId": 789, "unitType": "2室1厅", "longitude": "114.0579", "latitude": "22.5431", "roomId": 401,
    "advisorId": 501, "advisorName": "王顾问", "companyName": "万科地产", "companyAbbreviation": "万科",
    "houseTypeId": 601,
}
PROPERTY_FIELDS = ("housingId", "houseAreaId", "houseAreaName", "cityId", "cityName", "propertyAddrId", "unitType",
                   "longitude", "latitude", "roomId", "advisorId", "advisorName", "companyName",
                   "companyAbbreviation", "houseTypeId")
RECORD_KEYS = ["id", "customer_id", *SEED_LISTED, "created_at", "updated_at"]


def integrator(client_for, factory):
    return client_for(roles=["integrator"], factories=[factory], sub=f"int-{uuid.uuid4().hex[:8]}")


def is_iso_millis(value: str) -> bool:
    return len(value) == 24 and value.endswith("Z") and value[19] == "."


# --- the seed's examples on the session stack (no PROPERTY_LOOKUP_URL there) -----------------

def test_seed_record_then_its_repeat_answer_the_seed_shapes(stack, client_for, factory):
    api = integrator(client_for, factory)
    first = api.post(URL, json=SEED_RECORD)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    assert first.json() == {"success": True, "message": "带看记录录入成功，客户已创建", "data": {
        "viewing_record_id": data["viewing_record_id"], "customer_id": data["customer_id"],
        "customer_action": "created", "viewing_record_action": "created", "userId": "agent_user_67890",
        "external_property_enriched": False}}
    assert isinstance(data["viewing_record_id"], int) and isinstance(data["customer_id"], int)

    again = api.post(URL, json=SEED_RECORD)
    assert again.json() == {"success": True, "message": "带看记录更新成功，客户已更新", "data": {
        "viewing_record_id": data["viewing_record_id"], "customer_id": data["customer_id"],
        "customer_action": "updated", "viewing_record_action": "updated", "userId": "agent_user_67890",
        "external_property_enriched": False}}


def test_seed_queries_return_every_field_of_the_seed_record(stack, client_for, factory):
    api = integrator(client_for, factory)
    full = {**SEED_RECORD, **{name: SEED_LISTED[name] for name in PROPERTY_FIELDS}}
    created = api.post(URL, json=full).json()["data"]

    # 方案一: the customer agent_user_12345 first, then its (absent) records
    api.post("/api/external/customers", json={"userId": "agent_user_12345", "name": "张三"})
    basic = api.get(f"{URL}/agent_user_12345")
    assert basic.status_code == 200
    assert basic.json()["success"] is True
    assert basic.json()["data"] == {"data": [], "total": 0, "page": 1, "pageSize": 20, "totalPages": 0}

    filtered = api.get(f"{URL}/agent_user_67890?page=1&pageSize=10&property_name=万科&viewing_status=2"
                       f"&date_from=2024-01-01&date_to=2024-12-31")
    assert filtered.status_code == 200, filtered.text
    page = filtered.json()["data"]
    assert {k: page[k] for k in ("total", "page", "pageSize", "totalPages")} == \
        {"total": 1, "page": 1, "pageSize": 10, "totalPages": 1}
    assert len(page["data"]) == 1  # jq '.data.data | length'
    record = page["data"][0]
    assert list(record) == RECORD_KEYS
    assert {k: record[k] for k in SEED_LISTED} == SEED_LISTED
    assert record["id"] == created["viewing_record_id"] and record["customer_id"] == created["customer_id"]
    assert is_iso_millis(record["created_at"]) and is_iso_millis(record["updated_at"])

    for query in ("property_name=华润", "viewing_status=1", "date_from=2024-08-16", "date_to=2024-08-14",
                  "business_type=shared_rent", "viewer_name=张三"):
        assert api.get(f"{URL}/agent_user_67890?{query}").json()["data"]["total"] == 0, query


def test_records_of_a_tenant_are_invisible_to_another(stack, client_for, factory):
    integrator(client_for, factory).post(URL, json=SEED_RECORD)
    other = integrator(client_for, factory + "X").get(f"{URL}/agent_user_67890").json()
    assert other["data"]["total"] == 0


INVALID = [
    ("viewing_status", 0), ("viewing_status", 5), ("viewing_feedback", 2), ("commission", -100),
    ("business_type", "hotel"), ("room_type", "studio"), ("customer_phone", "10900139000"),
    ("viewing_time", "2024-08-15 下午"), ("housingId", "一百零一"), ("property_name", ""), ("userId", None),
]


@pytest.mark.parametrize("field, value", INVALID)
def test_each_invalid_value_gets_400_naming_the_field(stack, client_for, factory, field, value):
    resp = integrator(client_for, factory).post(URL, json={**SEED_RECORD, field: value})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == [field] and field in body["message"]


def test_bad_query_parameters_get_400_naming_them(stack, client_for, factory):
    api = integrator(client_for, factory)
    for query, field in (("viewing_status=9", "viewing_status"), ("date_to=2024-02-30", "date_to"),
                         ("pageSize=0", "pageSize")):
        resp = api.get(f"{URL}/agent_user_67890?{query}")
        assert resp.status_code == 400 and field in resp.json()["errors"], query


# --- 200 records over 20 customers: statistics through the events -----------------------------

def _burst_plan(factory: str):
    """Wave A: 140 distinct records + 20 exact repeats; wave B: 40 updates (commission up,
    some deals). Nothing ever takes a deal or a confirmation back, so each customer's final
    status follows from its records' final values whatever the arrival order."""
    records = {}
    for i in range(20):
        for j in range(7):
            if i % 5 == 4:
                status = 4 if j % 2 else 1          # never confirmed: stays 跟进中
            else:
                status = 2 if (i + j) % 3 == 0 else (4 if j % 2 else 1)
            records[(i, j)] = {"userId": f"burst-{factory}-{i}", "customer_name": f"客户{i}",
                               "customer_phone": f"139{i:04d}{j:04d}", "property_name": f"楼盘{j}",
                               "property_address": f"{i}栋{j}室", "viewing_status": status,
                               "commission": 100 * (j + 1) + i, "viewing_feedback": 0}
    wave_a = [dict(body) for body in records.values()] + [dict(records[(i, 3)]) for i in range(20)]
    wave_b = []
    for i in range(20):
        for j in (0, 1):
            update = dict(records[(i, j)], commission=records[(i, j)]["commission"] + 1000)
            if i % 4 == 0 and j == 1:
                update["viewing_feedback"] = 1
            records[(i, j)] = update
            wave_b.append(update)
    expected = {}
    for i in range(20):
        mine = [records[(i, j)] for j in range(7)]
        status = 4 if any(r["viewing_feedback"] == 1 for r in mine) else \
            (3 if any(r["viewing_status"] == 2 for r in mine) else 1)
        expected[f"burst-{factory}-{i}"] = (7, sum(r["commission"] for r in mine), status)
    return wave_a, wave_b, expected




def test_a_burst_of_200_records_reaches_each_customers_statistics(stack, client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])  # 200 requests at once: admin's rate limit
    wave_a, wave_b, expected = _burst_plan(factory)
    assert len(wave_a) + len(wave_b) == 200

    started = time.monotonic()
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda body: api.post(URL, json=body), wave_a))
        answers += list(pool.map(lambda body: api.post(URL, json=body), wave_b))
    burst_seconds = time.monotonic() - started
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers if r.status_code != 200][:3]
    customer_of = {}
    for body, resp in zip(wave_a + wave_b, answers):
        customer_of.setdefault(body["userId"], set()).add(resp.json()["data"]["customer_id"])
    assert all(len(ids) == 1 for ids in customer_of.values())  # one customer per userId
    created = [r.json()["data"]["viewing_record_action"] for r in answers].count("created")
    assert created == 140

    def actual():
        out = {}
        for user, (cid,) in customer_of.items():
            c = api.get(f"/api/v1/customers/{cid}").json()["data"]
            out[user] = (c["viewing_count"], Decimal(str(c["total_commission"])), c["lead_status"])
        return out

    want = {user: (n, Decimal(total), status) for user, (n, total, status) in expected.items()}
    deadline, got = time.monotonic() + 60, None
    while time.monotonic() < deadline:
        got = actual()
        if got == want:
            break
        time.sleep(0.25)
    converged = time.monotonic() - started - burst_seconds
    print(f"\nburst: 200 records in {burst_seconds:.2f}s, statistics converged {converged:.2f}s later")
    assert got == want
    listed = api.get(f"{URL}/burst-{factory}-0", params={"pageSize": 100}).json()["data"]
    assert listed["total"] == 7


# --- a dedicated small set: property service (fake, real process) and outages -----------------

@pytest.fixture(scope="module")
def property_service():
    port = free_port()
    proc = Process("fake-property", [sys.executable, str(repo_root() / "tests" / "fake_property_service.py"),
                                     "--port", str(port)], base_env(), ready_url=f"http://127.0.0.1:{port}/healthz")
    proc.start()
    yield proc, f"http://127.0.0.1:{port}"
    proc.stop()


@pytest.fixture(scope="module")
def enriching_stack(property_service):
    _, url = property_service
    with Stack(services=["customer", "viewing"], workers=[],
               extra_env={"PROPERTY_LOOKUP_URL": f"{url}/properties", "PROPERTY_LOOKUP_TIMEOUT": "1"}) as running:
        yield running


@pytest.fixture
def property_mode(property_service):
    _, url = property_service

    def switch(mode):
        requests.post(f"{url}/_mode", json={"mode": mode}, timeout=5).raise_for_status()
    yield switch
    switch("ok")


def post(stack, factory, body, roles=("integrator",)):
    headers = auth_headers(roles=roles, factories=[factory], sub=f"int-{uuid.uuid4().hex[:8]}")
    return requests.post(stack.gateway + URL, json=body, headers=headers, timeout=30)


def get(stack, factory, path):
    headers = auth_headers(roles=["integrator"], factories=[factory], sub=f"int-{uuid.uuid4().hex[:8]}")
    return requests.get(stack.gateway + path, headers=headers, timeout=30)


def test_seed_record_with_property_service_answers_the_seed_enriched_shape(enriching_stack, property_service,
                                                                           property_mode, factory):
    property_mode("ok")
    resp = post(enriching_stack, factory, SEED_RECORD)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert resp.json() == {"success": True, "message": "带看记录录入成功，客户已创建，已自动填入外部房源信息", "data": {
        "viewing_record_id": data["viewing_record_id"], "customer_id": data["customer_id"],
        "customer_action": "created", "viewing_record_action": "created", "userId": "agent_user_67890",
        "external_property_enriched": True,
        "external_property_data": {"propertyAddrId": 789, "housingId": 101, "cityName": "深圳市",
                                   "houseAreaName": "南山区", "advisorName": "王顾问", "companyName": "万科地产"}}}
    _, url = property_service
    asked = requests.get(f"{url}/_requests", timeout=5).json()
    assert {"property_name": "万科城", "property_address": "1栋2单元301室"} in \
        [{k: a[k] for k in ("property_name", "property_address")} for a in asked]
    record = get(enriching_stack, factory, f"{URL}/agent_user_67890").json()["data"]["data"][0]
    assert (record["propertyAddrId"], record["housingId"], record["cityName"], record["houseAreaName"],
            record["advisorName"], record["companyName"]) == (789, 101, "深圳市", "南山区", "王顾问", "万科地产")


@pytest.mark.parametrize("mode", ["slow", "error", "down"])
def test_a_slow_failing_or_absent_property_service_never_stops_the_record(enriching_stack, property_service,
                                                                          property_mode, factory, mode):
    proc, _ = property_service
    if mode == "down":
        proc.stop()
    else:
        property_mode(mode)
    try:
        started = time.monotonic()
        resp = post(enriching_stack, factory, {**SEED_RECORD, "userId": f"u-{mode}"})
        elapsed = time.monotonic() - started
    finally:
        if mode == "down":
            proc.start(wait=30)
    assert resp.status_code == 200, resp.text
    data = resp.json()["data"]
    assert data["external_property_enriched"] is False and "external_property_data" not in data
    assert data["viewing_record_action"] == "created"
    assert resp.json()["message"] == "带看记录录入成功，客户已创建"
    assert elapsed < 8, f"{mode}: {elapsed:.2f}s"  # the lookup times out after 1 s; the slow one answers in 10 s
    listed = get(enriching_stack, factory, f"{URL}/u-{mode}").json()["data"]
    assert listed["total"] == 1 and listed["data"][0]["housingId"] is None


def test_customer_service_down_gives_503_and_no_record_then_the_retry_succeeds(enriching_stack, factory):
    customer = enriching_stack.procs["customer"]
    customer.stop()
    try:
        started = time.monotonic()
        resp = post(enriching_stack, factory, {**SEED_RECORD, "userId": "u-outage"})
        elapsed = time.monotonic() - started
        assert resp.status_code == 503, resp.text
        body = resp.json()
        assert body["success"] is False and body["error"] == "CUSTOMER_SERVICE_UNAVAILABLE" and body["message"]
        assert resp.headers["X-Trace-Id"]
        assert elapsed < 5
        assert get(enriching_stack, factory, f"{URL}/u-outage").json()["data"]["total"] == 0
    finally:
        customer.start(wait=60)
    retried = post(enriching_stack, factory, {**SEED_RECORD, "userId": "u-outage"})
    assert retried.status_code == 200 and retried.json()["data"]["viewing_record_action"] == "created"
    assert get(enriching_stack, factory, f"{URL}/u-outage").json()["data"]["total"] == 1


def test_the_gateways_document_shows_the_external_api_and_hides_the_internal_snapshot(stack):
    spec = requests.get(stack.gateway + "/openapi.json", timeout=30).json()
    assert {"/api/external/customers", "/api/external/viewing-records",
            "/api/external/viewing-records/{user_id}"} <= set(spec["paths"])
    assert "/internal/viewing-records/snapshot" not in spec["paths"]
    post = spec["paths"]["/api/external/viewing-records"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
