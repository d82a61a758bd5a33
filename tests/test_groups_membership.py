"""Seed 003 customer groups and business-domain isolation end to end through the gateway:
groups hold customers of their own domain up to max_member, member sets are replaced as a
whole, and a token restricted to some domains sees nothing of the others."""
from __future__ import annotations

import json
import time
import uuid

import pytest

pytestmark = pytest.mark.system

GW, COLD = "GENERAL_WAREHOUSING", "COLD_CHAIN"


def create_customers(api, *specs) -> list[int]:
    ids = []
    for name, domain in specs:
        resp = api.post("/api/v1/customers", json={"customer": {"name": name, "business_domain": domain}})
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["data"]["id"])
    return ids


def create_group(api, name=None, domain=GW, **fields):
    resp = api.post("/api/v1/customer-groups", json={"name": name or f"组-{uuid.uuid4().hex[:6]}",
                                                     "business_domain": domain, **fields})
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


@pytest.fixture
def admin(client_for, factory):
    return client_for(roles=["admin"], factories=[factory])


def test_create_group_returns_its_id_and_it_lists_and_reads_back(admin):
    group = create_group(admin, "华东仓储客户", GW, max_member=10, description="重点")
    assert isinstance(group["id"], int) and group["member_count"] == 0 and group["max_member"] == 10
    page = admin.get("/api/v1/customer-groups", params={"page": 1, "page_size": 10}).json()["data"]
    assert (page["total"], page["page"], page["page_size"], page["total_pages"]) == (1, 1, 10, 1)
    assert page["items"][0]["name"] == "华东仓储客户"
    detail = admin.get(f"/api/v1/customer-groups/{group['id']}").json()["data"]
    assert detail["members"] == [] and detail["description"] == "重点"
    dup = admin.post("/api/v1/customer-groups", json={"name": "华东仓储客户", "business_domain": GW})
    assert dup.status_code == 409 and dup.json()["errors"] == {"name": ["分组名称已存在"]}


def test_replacing_members_swaps_the_whole_set_and_customer_detail_shows_its_groups(admin):
    a, b, c = create_customers(admin, ("成员甲", GW), ("成员乙", GW), ("成员丙", GW))
    group = create_group(admin, max_member=2)
    first = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [a, b]})
    assert first.status_code == 200, first.text
    assert [m["id"] for m in first.json()["data"]["members"]] == [a, b]
    second = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [c, b]})
    assert sorted(m["id"] for m in second.json()["data"]["members"]) == sorted([b, c])
    assert second.json()["data"]["member_count"] == 2
    assert admin.get(f"/api/v1/customers/{a}").json()["data"]["groups"] == []
    groups_of_c = admin.get(f"/api/v1/customers/{c}").json()["data"]["groups"]
    assert groups_of_c == [{"id": group["id"], "name": group["name"], "business_domain": GW}]
    listed = admin.get("/api/v1/customer-groups").json()["data"]["items"]
    assert listed[0]["member_count"] == 2
    cleared = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": []})
    assert cleared.status_code == 200 and cleared.json()["data"]["members"] == []


def test_members_of_another_domain_are_refused_naming_them_and_nothing_changes(admin):
    mine, foreign = create_customers(admin, ("本域", GW), ("他域", COLD))
    group = create_group(admin)
    assert admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [mine]}).status_code == 200
    resp = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [mine, foreign]})
    assert resp.status_code == 409 and resp.json()["error_code"] == "CUSTOMER_DOMAIN_MISMATCH"
    assert str(foreign) in resp.json()["message"] and resp.json()["code"] == 4090
    assert [m["id"] for m in admin.get(f"/api/v1/customer-groups/{group['id']}").json()["data"]["members"]] == [mine]


def test_more_members_than_max_member_and_unknown_customers_are_refused(admin):
    ids = create_customers(admin, ("限一", GW), ("限二", GW))
    group = create_group(admin, max_member=1)
    over = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": ids})
    assert over.status_code == 409 and over.json()["error_code"] == "GROUP_MEMBER_LIMIT_EXCEEDED"
    unknown = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [ids[0] + 999999]})
    assert unknown.status_code == 400 and str(ids[0] + 999999) in unknown.json()["errors"]["customer_ids"][0]
    bad = admin.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": "1,2"})
    assert bad.status_code == 400


def test_group_writes_need_a_writer_role_and_the_groups_domain(client_for, factory):
    viewer = client_for(roles=["viewer"], factories=[factory])
    assert viewer.post("/api/v1/customer-groups", json={"name": "看客"}).status_code == 403
    agent = client_for(roles=["sales_admin"], factories=[factory], domains=[GW])
    denied = agent.post("/api/v1/customer-groups", json={"name": "越权组", "business_domain": COLD})
    assert denied.status_code == 403 and denied.json()["error_code"] == "FORBIDDEN"
    own = agent.post("/api/v1/customer-groups", json={"name": "本域组"})
    assert own.status_code == 201 and own.json()["data"]["business_domain"] == GW


def test_a_restricted_token_sees_nothing_of_another_domain(client_for, factory):
    admin = client_for(roles=["admin"], factories=[factory])
    gw_id, cold_id = create_customers(admin, ("仓储可见", GW), ("冷链不可见", COLD))
    cold_group = create_group(admin, "冷链组", COLD)
    admin.put(f"/api/v1/customer-groups/{cold_group['id']}/members", json={"customer_ids": [cold_id]})
    gw_group = create_group(admin, "仓储组", GW)
    # ROLE_STD_AGENT maps to GENERAL_WAREHOUSING (the default mapping table of seed 003);
    # the token itself names no domain, and it is an admin so bulk is allowed.
    agent = client_for(roles=["admin", "ROLE_STD_AGENT"], factories=[factory], domains=[])
    assert [c["name"] for c in agent.get("/api/v1/customers").json()["data"]["items"]] == ["仓储可见"]
    assert agent.get("/api/v1/customers", params={"businessDomain": COLD}).json()["data"]["total"] == 0
    assert agent.get(f"/api/v1/customers/{cold_id}").status_code == 404
    assert agent.get(f"/api/v1/customers/{gw_id}").status_code == 200
    assert [g["id"] for g in agent.get("/api/v1/customer-groups").json()["data"]["items"]] == [gw_group["id"]]
    assert agent.get(f"/api/v1/customer-groups/{cold_group['id']}").status_code == 404
    assert agent.put(f"/api/v1/customer-groups/{cold_group['id']}/members", json={"customer_ids": []}).status_code == 404
    bulk = agent.post("/api/v1/customers/bulk-update/", json={"customers": [{"id": cold_id, "notes": "越权"},
                                                                            {"id": gw_id, "notes": "本域"}]})
    assert bulk.status_code == 207
    assert bulk.json()["data"]["failed_customers"] == [{"data": {"id": cold_id, "notes": "越权"},
                                                        "errors": {"id": ["客户不存在或已被删除"]}}]
    deleted = agent.post("/api/v1/customers/bulk-delete/", json={"ids": [cold_id]})
    assert deleted.status_code == 400 and deleted.json()["data"]["failed_ids"][0]["error"] == "客户不存在或已被删除"
    moved = agent.put(f"/api/v1/customers/{gw_id}", json={"business_domain": COLD})
    assert moved.status_code == 403 and moved.json()["error_code"] == "FORBIDDEN"
    created = agent.post("/api/v1/customers", json={"customer": {"name": "越权新建", "business_domain": COLD}})
    assert created.status_code == 403 and created.json()["error_code"] == "FORBIDDEN"
    into_cold = agent.post("/api/v1/customers/bulk-create/", json={"customers": [{"name": "冷链批量", "business_domain": COLD}]})
    assert into_cold.status_code == 400
    assert list(into_cold.json()["data"]["failed_customers"][0]["errors"]) == ["business_domain"]
    assert admin.get(f"/api/v1/customers/{cold_id}").json()["data"]["notes"] is None


def test_the_role_to_domain_mapping_chain_is_logged_with_the_trace_id(stack, client_for, factory):
    agent = client_for(roles=["viewer", "ROLE_STD_AGENT"], factories=[factory], domains=[])
    request_id = f"map-{uuid.uuid4().hex}"
    assert agent.get("/api/v1/customer-groups", headers={"X-Request-ID": request_id}).status_code == 200
    deadline, lines = time.monotonic() + 5, []
    while time.monotonic() < deadline and not lines:
        lines = [json.loads(line) for line in stack.logs("customer").splitlines()
                 if line.startswith("{") and request_id in line and '"domain_mapping"' in line]
        time.sleep(0.1)
    assert lines, "no domain_mapping log line carried the trace id"
    assert lines[0]["trace_id"] == request_id
    assert lines[0]["chain"] == ["role:ROLE_STD_AGENT->GENERAL_WAREHOUSING"] and lines[0]["domains"] == [GW]
