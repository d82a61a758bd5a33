"""Issue 6, seed 002 客户数据录入 through the gateway on the running set: the seed's curl
examples replayed field by field, idempotent repeats, 400s naming the field for every enum
and pattern, and concurrent first calls that make one customer."""
from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.system

URL = "/api/external/customers"

# The seed's curl examples, verbatim.
SEED_CREATE = {
    "userId": "agent_user_12345", "botId": "bot_001", "nickname": "小张", "name": "张三",
    "phone": "13800138000", "status": 1, "community": "万科城", "business_type": "whole_rent",
    "room_type": "two_bedroom", "room_tags": "[\"loft\", \"two_bath\"]", "move_in_date": "2024-09-01",
    "lease_period": 12, "price_range": "5000-8000", "source_channel": "referral",
    "internal_notes": "来自Agent系统推送",
}
SEED_UPDATE = {"userId": "agent_user_12345", "nickname": "张三丰", "phone": "13800138001",
               "community": "万科城二期", "business_type": "shared_rent", "price_range": "6000-9000"}
# The request example of the parameter table (every field).
SEED_FULL = {**SEED_CREATE, "backup_phone": "13900139000", "wechat": "zhangsan123", "creator": "外部Agent系统"}


def integrator(client_for, factory):
    """An integrator of the tenant with its own rate-limit bucket (10 req/s per token sub)."""
    return client_for(roles=["integrator"], factories=[factory], sub=f"int-{uuid.uuid4().hex[:8]}")


def stored(stack, customer_id) -> dict:
    """The customer row as customer-service stored it (the seed fields have no read API yet)."""
    engine = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT * FROM customers WHERE id = :id"),
                                     {"id": customer_id}).mappings().one())
    finally:
        engine.dispose()


def test_seed_curl_create_then_update_replayed_field_by_field(stack, client_for, factory):
    api = integrator(client_for, factory)
    created = api.post(URL, json=SEED_CREATE)
    assert created.status_code == 200, created.text
    cid = created.json()["data"]["id"]
    assert isinstance(cid, int)
    assert created.json() == {"success": True, "data": {"id": cid, "userId": "agent_user_12345", "action": "created"},
                              "message": "新客户创建成功"}
    assert created.headers["X-Trace-Id"]
    row = stored(stack, cid)
    expected = {"external_user_id": "agent_user_12345", "bot_id": "bot_001", "nickname": "小张", "name": "张三",
                "primary_contact_phone": "13800138000", "lead_status": 1, "community": "万科城",
                "business_type": "whole_rent", "room_type": "two_bedroom", "room_tags": '["loft", "two_bath"]',
                "move_in_date": dt.date(2024, 9, 1), "lease_period": 12, "price_range": "5000-8000",
                "source_channel": "referral", "internal_notes": "来自Agent系统推送", "creator": "外部系统",
                "source": "external", "factory_id": factory, "backup_phone": None, "wechat": None}
    assert {k: row[k] for k in expected} == expected
    assert row["customer_code"].startswith("EXTERNAL-")

    updated = api.post(URL, json=SEED_UPDATE)
    assert updated.status_code == 200, updated.text
    assert updated.json() == {"success": True, "data": {"id": cid, "userId": "agent_user_12345"},
                              "message": "客户信息已更新"}
    row = stored(stack, cid)
    expected.update(nickname="张三丰", primary_contact_phone="13800138001", community="万科城二期",
                    business_type="shared_rent", price_range="6000-9000")
    assert {k: row[k] for k in expected} == expected  # what the update did not send is kept

    admin = client_for(roles=["admin"], factories=[factory])
    detail = admin.get(f"/api/v1/customers/{cid}").json()["data"]
    assert (detail["user_id"], detail["name"], detail["primary_contact_phone"], detail["lead_status"]) == \
        ("agent_user_12345", "张三", "13800138001", 1)
    assert (detail["viewing_count"], detail["total_commission"]) == (0, 0)


def test_the_full_parameter_example_and_its_repeats_are_one_customer(stack, client_for, factory):
    api = integrator(client_for, factory)
    first = api.post(URL, json=SEED_FULL).json()
    cid = first["data"]["id"]
    for _ in range(3):
        again = api.post(URL, json=SEED_FULL)
        assert again.status_code == 200 and again.json()["data"] == {"id": cid, "userId": "agent_user_12345"}
        assert again.json()["message"] == "客户信息已更新"
    row = stored(stack, cid)
    assert (row["backup_phone"], row["wechat"], row["creator"], row["version"]) == \
        ("13900139000", "zhangsan123", "外部Agent系统", 1)  # repeats changed nothing
    listed = client_for(roles=["admin"], factories=[factory]).get("/api/v1/customers").json()["data"]
    assert listed["total"] == 1


def test_defaults_apply_on_create_only_and_empty_values_never_erase(stack, client_for, factory):
    api = integrator(client_for, factory)
    cid = api.post(URL, json={"userId": "u-min"}).json()["data"]["id"]
    row = stored(stack, cid)
    assert (row["lead_status"], row["business_type"], row["room_type"], row["source_channel"], row["creator"]) == \
        (1, "whole_rent", "one_bedroom", "referral", "外部系统")
    api.post(URL, json={"userId": "u-min", "status": 3, "room_type": "master_room", "wechat": "wx1"})
    api.post(URL, json={"userId": "u-min", "status": None, "room_type": "", "wechat": None, "name": ""})
    row = stored(stack, cid)
    assert (row["lead_status"], row["room_type"], row["wechat"], row["business_type"]) == \
        (3, "master_room", "wx1", "whole_rent")


INVALID = [
    ("status", 0), ("status", 6), ("status", "已成交"), ("business_type", "rent"), ("room_type", "studio"),
    ("source_channel", "weibo"), ("phone", "12800138000"), ("phone", "1380013800"),
    ("backup_phone", "139001390000"), ("move_in_date", "2024-02-30"), ("move_in_date", "2024/09/01"),
    ("room_tags", "loft,two_bath"), ("lease_period", 0), ("lease_period", 1.5), ("name", "张" * 101),
    ("userId", ""),
]


@pytest.mark.parametrize("field, value", INVALID)
def test_each_invalid_enum_or_pattern_gets_400_naming_the_field(stack, client_for, factory, field, value):
    resp = integrator(client_for, factory).post(URL, json={**SEED_CREATE, field: value})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["success"] is False and body["error"] == "VALIDATION_ERROR"
    assert list(body["errors"]) == [field] and field in body["message"]


def test_missing_user_id_and_unknown_fields_are_named(stack, client_for, factory):
    api = integrator(client_for, factory)
    missing = api.post(URL, json={"name": "张三"}).json()
    assert missing["success"] is False and "userId" in missing["errors"]
    unknown = api.post(URL, json={"userId": "u", "vip": True}).json()
    assert "vip" in unknown["errors"] and "vip" in unknown["message"]


def test_only_integrators_and_admins_may_write(stack, client_for, factory):
    resp = client_for(roles=["sales_admin"], factories=[factory]).post(URL, json=SEED_CREATE)
    assert resp.status_code == 403 and resp.json()["success"] is False and resp.json()["message"]


def test_concurrent_first_calls_with_one_user_id_make_one_customer(stack, client_for, factory):
    api = client_for(roles=["admin"], factories=[factory])  # a burst: admin's rate limit

    with ThreadPoolExecutor(12) as pool:
        responses = list(pool.map(lambda i: api.post(URL, json={**SEED_CREATE, "nickname": f"n{i}"}), range(12)))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert [r.json()["data"].get("action") for r in responses].count("created") == 1
    assert len({r.json()["data"]["id"] for r in responses}) == 1
    assert api.get("/api/v1/customers").json()["data"]["total"] == 1
