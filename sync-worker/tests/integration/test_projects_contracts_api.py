"""Projects and contracts over HTTP (in-process app, real database): the customer fields
are filled in by the service, tenants are isolated, roles are enforced."""
from __future__ import annotations

import pytest


def test_creating_needs_only_a_name_and_customer_id_and_copies_the_customer(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory, name="上海普全公司", primary_contact_name="李四",
                               primary_contact_phone="021-12345678")
    consumer.apply(customer.created())
    created = client.post("/api/v1/projects", json={"name": "一期工程", "customer_id": customer.id}, headers=headers)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["success"] is True and body["code"] == 2000
    project = body["data"]
    assert project["customer_name"] == "上海普全公司" and project["customer_contact"] == "李四"
    assert project["customer_phone"] == "021-12345678" and project["factory_id"] == factory
    assert project["created_by"] == "u-test" and project["version"] == 1 and created.headers["ETag"] == '"1"'

    contract = client.post("/api/v1/contracts", json={"contract_no": "HT-001", "customer_id": customer.id,
                                                      "project_id": project["id"]}, headers=headers)
    assert contract.status_code == 201
    data = contract.get_json()["data"]
    assert (data["customer_name"], data["contact_person"], data["contact_phone"]) == \
        ("上海普全公司", "李四", "021-12345678")
    assert data["project_id"] == project["id"]


def test_a_customer_not_seen_yet_is_asked_from_customer_service_with_the_callers_token_and_trace(
        client, headers_for, factory, customer_service):
    headers = headers_for(factories=[factory])
    customer_service.customers[424242] = {"id": 424242, "factory_id": factory, "name": "刚建的客户",
                                          "primary_contact_name": "王五", "primary_contact_phone": "13700000000",
                                          "version": 1, "business_domain": "DEFAULT"}
    created = client.post("/api/v1/projects", json={"name": "p", "customer_id": 424242},
                          headers={**headers, "X-Request-ID": "trace-create-1"})
    assert created.status_code == 201 and created.get_json()["data"]["customer_name"] == "刚建的客户"
    asked = [r for r in customer_service.requests if r["path"] == "/api/v1/customers/424242"][-1]
    assert asked["authorization"] == headers["Authorization"]
    assert asked["x-factory-id"] == factory and asked["x-trace-id"] == "trace-create-1"
    # Now known: a second project does not ask again.
    before = len(customer_service.requests)
    assert client.post("/api/v1/projects", json={"name": "p2", "customer_id": 424242}, headers=headers).status_code == 201
    assert len(customer_service.requests) == before


@pytest.mark.parametrize("path,body", [("/api/v1/projects", {"name": "p"}),
                                       ("/api/v1/contracts", {"contract_no": "HT-RACE"})])
def test_a_change_applied_while_the_customer_is_fetched_is_what_gets_copied(
        client, headers_for, factory, consumer, customer_events, customer_service, path, body):
    """customer-service answers an older state than an event applied meanwhile (seen in
    make soak: a project created during an update kept the old name for good, since no
    later event touched it). The new row gets the newest known state."""
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    customer_service.customers[customer.id] = {**customer.state, "version": 1}  # what it will answer
    newer = [customer.created(), customer.updated(name="改名后的客户", primary_contact_phone="13911110000")]

    def apply_the_events_first(customer_id):
        if customer_id == customer.id:
            customer_service.before_answer = None
            for event in newer:
                assert consumer.apply(event) == "applied"

    customer_service.before_answer = apply_the_events_first
    try:
        created = client.post(path, json={**body, "customer_id": customer.id}, headers=headers)
    finally:
        customer_service.before_answer = None
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["data"]
    assert data["customer_name"] == "改名后的客户"
    assert data.get("customer_phone", data.get("contact_phone")) == "13911110000"


def test_an_unknown_customer_is_404_naming_customer_id(client, headers_for, factory):
    headers = headers_for(factories=[factory])
    for path, body in (("/api/v1/projects", {"name": "p", "customer_id": 987654321}),
                       ("/api/v1/contracts", {"contract_no": "X", "customer_id": 987654321})):
        resp = client.post(path, json=body, headers=headers)
        assert resp.status_code == 404
        assert resp.get_json()["code"] == 4040 and resp.get_json()["errors"] == {"customer_id": ["客户不存在或已被删除"]}


def test_customer_service_down_and_customer_never_seen_is_503(client, headers_for, factory, customer_service):
    headers = headers_for(factories=[factory])
    customer_service.down = True
    try:
        resp = client.post("/api/v1/projects", json={"name": "p", "customer_id": 55555}, headers=headers)
    finally:
        customer_service.down = False
    assert resp.status_code == 503 and resp.get_json()["code"] == 5030


def test_validation_errors_name_every_failing_field(client, headers_for, factory):
    headers = headers_for(factories=[factory])
    resp = client.post("/api/v1/projects", json={"name": "", "customer_id": "x", "customer_name": "不能直接写"},
                       headers=headers)
    assert resp.status_code == 400
    assert set(resp.get_json()["errors"]) == {"name", "customer_id", "customer_name"}
    assert client.get("/api/v1/projects?page_size=101", headers=headers).status_code == 400
    assert client.put("/api/v1/projects/1", json={}, headers=headers).status_code == 400


def test_contract_numbers_are_unique_per_factory(client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    body = {"contract_no": "HT-DUP", "customer_id": customer.id}
    assert client.post("/api/v1/contracts", json=body, headers=headers).status_code == 201
    dup = client.post("/api/v1/contracts", json=body, headers=headers)
    assert dup.status_code == 409 and dup.get_json()["errors"] == {"contract_no": ["合同编号已存在"]}
    other_factory = "O" + factory
    other = customer_events(other_factory)
    consumer.apply(other.created())
    assert client.post("/api/v1/contracts", json={"contract_no": "HT-DUP", "customer_id": other.id},
                       headers=headers_for(factories=[other_factory])).status_code == 201


def test_a_contract_for_a_project_must_be_with_the_projects_customer(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    a, b = customer_events(factory), customer_events(factory)
    consumer.apply(a.created())
    consumer.apply(b.created())
    project = client.post("/api/v1/projects", json={"name": "p", "customer_id": a.id}, headers=headers).get_json()["data"]
    resp = client.post("/api/v1/contracts", json={"contract_no": "HT-X", "customer_id": b.id,
                                                  "project_id": project["id"]}, headers=headers)
    assert resp.status_code == 400 and "project_id" in resp.get_json()["errors"]
    missing = client.post("/api/v1/contracts", json={"contract_no": "HT-Y", "customer_id": a.id,
                                                     "project_id": 99999999}, headers=headers)
    assert missing.status_code == 404 and "project_id" in missing.get_json()["errors"]


def test_update_renames_and_moving_to_another_customer_copies_its_fields(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    a, b = customer_events(factory), customer_events(factory, name="乙公司")
    consumer.apply(a.created())
    consumer.apply(b.created())
    created = client.post("/api/v1/projects", json={"name": "p", "customer_id": a.id}, headers=headers)
    pid = created.get_json()["data"]["id"]
    moved = client.put(f"/api/v1/projects/{pid}", json={"name": "改名", "customer_id": b.id},
                       headers={**headers, "If-Match": created.headers["ETag"]})
    assert moved.status_code == 200
    data = moved.get_json()["data"]
    assert (data["name"], data["customer_id"], data["customer_name"], data["version"]) == ("改名", b.id, "乙公司", 2)
    stale = client.put(f"/api/v1/projects/{pid}", json={"name": "再改"}, headers={**headers, "If-Match": '"1"'})
    assert stale.status_code == 412 and stale.get_json()["code"] == 4120


def test_lists_are_paginated_and_filtered_by_customer(client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    for i in range(5):
        client.post("/api/v1/projects", json={"name": f"项目{i}", "customer_id": customer.id}, headers=headers)
        client.post("/api/v1/contracts", json={"contract_no": f"C{i}", "customer_id": customer.id}, headers=headers)
    page = client.get(f"/api/v1/projects?customer_id={customer.id}&page=2&page_size=2", headers=headers).get_json()["data"]
    assert page["total"] == 5 and page["page"] == 2 and page["page_size"] == 2 and page["total_pages"] == 3
    assert len(page["items"]) == 2
    contracts = client.get(f"/api/v1/contracts?customer_id={customer.id}&keyword=C3", headers=headers).get_json()["data"]
    assert [c["contract_no"] for c in contracts["items"]] == ["C3"]


def test_another_tenant_sees_nothing_and_readers_cannot_write(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    pid = client.post("/api/v1/projects", json={"name": "p", "customer_id": customer.id},
                      headers=headers).get_json()["data"]["id"]
    stranger = headers_for(factories=["X" + factory])
    assert client.get(f"/api/v1/projects/{pid}", headers=stranger).status_code == 404
    assert client.get("/api/v1/projects", headers=stranger).get_json()["data"]["total"] == 0
    assert client.post("/api/v1/projects", json={"name": "p", "customer_id": customer.id},
                       headers=stranger).status_code == 404
    assert client.post(f"/api/v1/sync/customers/{customer.id}", headers=stranger).status_code == 404
    assert client.get(f"/api/v1/projects/{pid}", headers={**stranger, "X-Factory-Id": factory}).status_code == 403

    viewer = headers_for(roles=["viewer"], factories=[factory])
    assert client.get(f"/api/v1/projects/{pid}", headers=viewer).status_code == 200
    assert client.get("/api/v1/sync/history", headers=viewer).status_code == 200
    for method, path, body in (("post", "/api/v1/projects", {"name": "p", "customer_id": customer.id}),
                               ("put", f"/api/v1/projects/{pid}", {"name": "q"}),
                               ("post", f"/api/v1/sync/customers/{customer.id}", None),
                               ("post", f"/api/v1/projects/{pid}/sync-from-contract", None)):
        resp = getattr(client, method)(path, json=body, headers=viewer)
        assert resp.status_code == 403 and resp.get_json()["code"] == 4030, (method, path)
    sales = headers_for(roles=["sales_admin"], factories=[factory])
    assert client.put(f"/api/v1/projects/{pid}", json={"name": "销售改名"}, headers=sales).status_code == 200
