"""/api/external/customers on real PostgreSQL: the idempotent upsert by userId, defaults on
create only, the COALESCE rule, 400s naming the field, the unique index under concurrency
and the events written with each change."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa

from customer_service.bootstrap import service_of

URL = "/api/external/customers"

SEED_CREATE = {
    "userId": "agent_user_12345", "botId": "bot_001", "nickname": "小张", "name": "张三",
    "phone": "13800138000", "status": 1, "community": "万科城", "business_type": "whole_rent",
    "room_type": "two_bedroom", "room_tags": "[\"loft\", \"two_bath\"]", "move_in_date": "2024-09-01",
    "lease_period": 12, "price_range": "5000-8000", "source_channel": "referral",
    "internal_notes": "来自Agent系统推送",
}
SEED_UPDATE = {"userId": "agent_user_12345", "nickname": "张三丰", "phone": "13800138001",
               "community": "万科城二期", "business_type": "shared_rent", "price_range": "6000-9000"}


def _customer(client, headers, cid):
    return client.get(f"/api/v1/customers/{cid}", headers=headers).get_json()["data"]


def _events(app, cid):
    with service_of(app).engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT payload FROM outbox WHERE aggregate_type = 'customer' "
                                    "AND aggregate_id = :id ORDER BY id"), {"id": str(cid)}).scalars().all()
    return [json.loads(r) for r in rows]


def test_seed_create_then_update_answer_the_seed_shapes_and_keep_what_was_not_sent(app, client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    created = client.post(URL, json=SEED_CREATE, headers=h)
    assert created.status_code == 200, created.get_json()
    body = created.get_json()
    cid = body["data"]["id"]
    assert body == {"success": True, "data": {"id": cid, "userId": "agent_user_12345", "action": "created"},
                    "message": "新客户创建成功"}

    updated = client.post(URL, json=SEED_UPDATE, headers=h)
    assert updated.get_json() == {"success": True, "data": {"id": cid, "userId": "agent_user_12345"},
                                  "message": "客户信息已更新"}
    customer = _customer(client, headers_for(factories=[factory]), cid)
    assert customer["name"] == "张三" and customer["primary_contact_phone"] == "13800138001"
    assert customer["lead_status"] == 1 and customer["user_id"] == "agent_user_12345"
    assert customer["source"] == "external" and customer["customer_code"].startswith("EXTERNAL-")

    events = _events(app, cid)
    assert [e["event_type"] for e in events] == ["customer.created", "customer.updated"]
    created_data, update = events[0]["data"], events[1]
    assert created_data["external_user_id"] == "agent_user_12345" and created_data["bot_id"] == "bot_001"
    assert created_data["room_tags"] == '["loft", "two_bath"]' and created_data["move_in_date"] == "2024-09-01"
    assert created_data["creator"] == "外部系统" and created_data["lease_period"] == 12
    assert sorted(update["changed_fields"]) == ["business_type", "community", "nickname", "price_range",
                                               "primary_contact_phone"]
    assert update["data"]["room_type"] == "two_bedroom" and update["data"]["internal_notes"] == "来自Agent系统推送"


def test_repeating_a_call_changes_nothing_and_emits_no_event(app, client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    cid = client.post(URL, json=SEED_CREATE, headers=h).get_json()["data"]["id"]
    for _ in range(3):
        again = client.post(URL, json=SEED_CREATE, headers=h).get_json()
        assert again["data"] == {"id": cid, "userId": "agent_user_12345"}
    assert [e["event_type"] for e in _events(app, cid)] == ["customer.created"]


def test_defaults_apply_on_create_only_and_blanks_never_erase(client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    cid = client.post(URL, json={"userId": "u-defaults"}, headers=h).get_json()["data"]["id"]
    admin = headers_for(factories=[factory])
    fresh = _customer(client, admin, cid)
    assert fresh["lead_status"] == 1 and fresh["name"] is None

    client.post(URL, json={"userId": "u-defaults", "status": 5, "name": "王五", "phone": "13700137000"}, headers=h)
    # null, "" and absent fields leave the values alone; no default comes back on update
    resp = client.post(URL, json={"userId": "u-defaults", "name": None, "phone": "", "status": None,
                                  "business_type": ""}, headers=h)
    assert resp.status_code == 200
    after = _customer(client, admin, cid)
    assert after["lead_status"] == 5 and after["name"] == "王五" and after["primary_contact_phone"] == "13700137000"


def test_invalid_values_get_400_naming_the_field_in_the_external_envelope(client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    resp = client.post(URL, json={"userId": "u-bad", "phone": "12345", "business_type": "hotel"}, headers=h)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["success"] is False and body["error"] == "VALIDATION_ERROR"
    assert set(body["errors"]) == {"phone", "business_type"}
    assert "phone" in body["message"] and "business_type" in body["message"]
    missing = client.post(URL, json={"name": "无标识"}, headers=h).get_json()
    assert "userId" in missing["errors"] and "userId" in missing["message"]


def test_roles_other_than_integrator_and_admin_are_refused(client, headers_for, factory):
    resp = client.post(URL, json={"userId": "u-x"}, headers=headers_for(roles=["viewer"], factories=[factory]))
    assert resp.status_code == 403 and resp.get_json()["success"] is False
    assert client.post(URL, json={"userId": "u-x"}, headers=headers_for(roles=["admin"], factories=[factory])).status_code == 200


def test_the_same_user_id_in_two_tenants_is_two_customers(client, headers_for, factory):
    other = factory + "B"
    a = client.post(URL, json={"userId": "shared"}, headers=headers_for(roles=["integrator"], factories=[factory]))
    b = client.post(URL, json={"userId": "shared"}, headers=headers_for(roles=["integrator"], factories=[other]))
    assert a.get_json()["data"]["action"] == b.get_json()["data"]["action"] == "created"
    assert a.get_json()["data"]["id"] != b.get_json()["data"]["id"]


def test_external_customers_are_exempt_from_name_uniqueness(client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    assert client.post(URL, json={"userId": "n-1", "name": "同名"}, headers=h).status_code == 200
    assert client.post(URL, json={"userId": "n-2", "name": "同名"}, headers=h).status_code == 200


def test_concurrent_first_calls_create_one_customer(app, client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])

    def call(i):
        with app.test_client() as c:
            return c.post(URL, json={"userId": "racer", "nickname": f"n{i}"}, headers=h)

    with ThreadPoolExecutor(10) as pool:
        responses = list(pool.map(call, range(10)))
    assert all(r.status_code == 200 for r in responses), [r.get_json() for r in responses]
    assert [r.get_json()["data"].get("action") for r in responses].count("created") == 1
    assert len({r.get_json()["data"]["id"] for r in responses}) == 1
    with service_of(app).engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM customers WHERE factory_id = :f"), {"f": factory}).scalar()
    assert count == 1


def test_a_deleted_customer_is_not_silently_revived(client, headers_for, factory):
    h = headers_for(roles=["integrator"], factories=[factory])
    cid = client.post(URL, json={"userId": "gone"}, headers=h).get_json()["data"]["id"]
    assert client.delete(f"/api/v1/customers/{cid}", headers=headers_for(factories=[factory])).status_code == 200
    resp = client.post(URL, json={"userId": "gone", "name": "回来"}, headers=h)
    assert resp.status_code == 409 and "userId" in resp.get_json()["errors"]


def test_openapi_documents_the_request_and_response_schemas(client):
    spec = client.get("/openapi.json").get_json()
    op = spec["paths"]["/api/external/customers"]["post"]
    assert op["description"] or op["summary"]
    request = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    props = spec["components"]["schemas"][request]["properties"]
    assert {"userId", "botId", "phone", "status", "room_tags", "move_in_date", "source_channel"} <= set(props)
    assert {"200", "400", "403"} <= set(op["responses"])
