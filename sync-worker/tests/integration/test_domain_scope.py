"""Business-domain scope (CONTRACT §3, issue 13): projects, contracts and sync history
belong to their customer's domain; outside the caller's domains they are 404, exactly as
the customer itself is in customer-service. The domain comes from the customer events."""
from __future__ import annotations

import pytest


@pytest.fixture
def two_domains(client, headers_for, factory, consumer, customer_events):
    """Customer ``d1`` in domain D1 and ``d2`` in D2, each with a project, a contract on it
    and one history entry; created by a caller of every domain."""
    admin = headers_for(factories=[factory])
    made = {}
    for domain in ("D1", "D2"):
        customer = customer_events(factory, business_domain=domain)
        consumer.apply(customer.created())
        project = client.post("/api/v1/projects", json={"name": f"项目{domain}", "customer_id": customer.id},
                              headers=admin).get_json()["data"]
        contract = client.post("/api/v1/contracts", json={"contract_no": f"HT-{domain}-{customer.id}",
                                                          "customer_id": customer.id, "project_id": project["id"]},
                               headers=admin).get_json()["data"]
        consumer.apply(customer.updated(name=f"改名{domain}"))
        made[domain] = (customer, project, contract)
    return made


def _ids(client, path, headers):
    body = client.get(path, headers=headers).get_json()
    return {item["id"] for item in body["data"]["items"]}


@pytest.mark.parametrize("domains", [["D1"], []], ids=["D1-only", "no-domains"])
def test_every_read_and_write_of_a_foreign_domains_customer_is_404(
        client, headers_for, factory, two_domains, customer_service, domains):
    caller = headers_for(roles=["admin"], factories=[factory], domains=domains)
    customer, project, contract = two_domains["D2"]
    customer_service.customers[customer.id] = dict(customer.state)  # customer-service knows it too
    foreign = [
        ("get", f"/api/v1/projects/{project['id']}", None),
        ("put", f"/api/v1/projects/{project['id']}", {"name": "偷改"}),
        ("post", f"/api/v1/projects/{project['id']}/sync-from-contract", None),
        ("get", f"/api/v1/contracts/{contract['id']}", None),
        ("put", f"/api/v1/contracts/{contract['id']}", {"contract_no": "偷改"}),
        ("post", f"/api/v1/sync/customers/{customer.id}", None),
        ("post", "/api/v1/projects", {"name": "p", "customer_id": customer.id}),
        ("post", "/api/v1/contracts", {"contract_no": "X-1", "customer_id": customer.id}),
    ]
    for method, path, body in foreign:
        resp = getattr(client, method)(path, json=body, headers=caller)
        assert resp.status_code == 404 and resp.get_json()["code"] == 4040, (method, path, resp.get_json())
    for path in ("/api/v1/projects", "/api/v1/contracts", "/api/v1/sync/history"):
        filtered = client.get(f"{path}?customer_id={customer.id}", headers=caller)
        assert filtered.status_code == 404 and filtered.get_json()["errors"] == {"customer_id": ["客户不存在或已被删除"]}
        assert _ids(client, f"{path}?page_size=100", caller).isdisjoint(
            _ids(client, f"{path}?page_size=100&customer_id={customer.id}", headers_for(factories=[factory])))
    batch = client.post("/api/v1/sync/customers", json={"customer_ids": [customer.id]}, headers=caller)
    assert batch.status_code == 400 and batch.get_json()["data"]["results"][0]["code"] == 4040
    # Nothing was changed by any of it.
    assert client.get(f"/api/v1/projects/{project['id']}",
                      headers=headers_for(factories=[factory])).get_json()["data"]["version"] == project["version"] + 1


def test_a_caller_sees_and_changes_its_own_domain(client, headers_for, factory, two_domains):
    caller = headers_for(roles=["sales_admin"], factories=[factory], domains=["D1"])
    customer, project, contract = two_domains["D1"]
    assert client.get(f"/api/v1/projects/{project['id']}", headers=caller).get_json()["data"]["business_domain"] == "D1"
    assert _ids(client, "/api/v1/projects?page_size=100", caller) == {project["id"]}
    assert _ids(client, "/api/v1/contracts?page_size=100", caller) == {contract["id"]}
    history = client.get("/api/v1/sync/history", headers=caller).get_json()["data"]["items"]
    assert {h["customer_id"] for h in history} == {customer.id} and history[0]["business_domain"] == "D1"
    assert client.put(f"/api/v1/projects/{project['id']}", json={"name": "改名"}, headers=caller).status_code == 200
    assert client.post(f"/api/v1/projects/{project['id']}/sync-from-contract", headers=caller).status_code == 200
    # A contract of its own customer may not point at a project of another domain.
    foreign_project = two_domains["D2"][1]
    resp = client.post("/api/v1/contracts", json={"contract_no": f"HT-X-{customer.id}", "customer_id": customer.id,
                                                  "project_id": foreign_project["id"]}, headers=caller)
    assert resp.status_code == 404 and "project_id" in resp.get_json()["errors"]


def test_a_customer_moving_to_another_domain_takes_its_rows_along(
        client, headers_for, factory, two_domains, consumer):
    customer, project, contract = two_domains["D2"]
    d1 = headers_for(roles=["viewer"], factories=[factory], domains=["D1"])
    d2 = headers_for(roles=["viewer"], factories=[factory], domains=["D2"])
    assert client.get(f"/api/v1/projects/{project['id']}", headers=d1).status_code == 404
    consumer.apply(customer.updated(business_domain="D1"))
    moved = client.get(f"/api/v1/projects/{project['id']}", headers=d1).get_json()["data"]
    assert moved["business_domain"] == "D1" and moved["version"] == project["version"] + 2
    assert moved["updated_by"] == "sync-worker"
    assert client.get(f"/api/v1/contracts/{contract['id']}", headers=d1).status_code == 200
    assert {h["customer_id"] for h in client.get("/api/v1/sync/history?page_size=100", headers=d1)
            .get_json()["data"]["items"]} == {customer.id, two_domains["D1"][0].id}
    for path in (f"/api/v1/projects/{project['id']}", f"/api/v1/contracts/{contract['id']}"):
        assert client.get(path, headers=d2).status_code == 404, path
    assert client.get("/api/v1/sync/history", headers=d2).get_json()["data"]["total"] == 0


def test_a_customer_whose_domain_is_unknown_is_seen_only_by_callers_of_every_domain(
        client, headers_for, factory, consumer, customer_events):
    customer = customer_events(factory, business_domain=None)
    consumer.apply(customer.created())
    everything = headers_for(factories=[factory])
    created = client.post("/api/v1/projects", json={"name": "p", "customer_id": customer.id}, headers=everything)
    assert created.status_code == 201
    pid = created.get_json()["data"]["id"]
    for domains in (["D1"], ["DEFAULT"]):
        assert client.get(f"/api/v1/projects/{pid}", headers=headers_for(factories=[factory],
                                                                          domains=domains)).status_code == 404
