"""Issue 13 through the gateway on the running set: business-domain scope on everything that
belongs to a customer in sync-worker and viewing-service. For every pair (caller's domains,
customer's domain) that does not match, projects, contracts, sync history and viewing
records answer 404, reads and writes alike; a matching caller gets them. The services learn
each customer's domain from the customer events (relay, RabbitMQ, their consumers) or, for
a customer no event has brought yet, from customer-service itself."""
from __future__ import annotations

import urllib.parse
import uuid

import pytest

from crm_testing import wait_for

pytestmark = pytest.mark.system

DOMAINS = ("D1", "D2")
VIEWINGS = "/api/external/viewing-records"


def quoted(user_id: str) -> str:
    return urllib.parse.quote(user_id, safe="").replace(".", "%2E")


@pytest.fixture
def owned(client_for, factory):
    """Per domain: a customer with a project, a contract on it, a sync history entry and a
    viewing record (of another customer, an integrator's userId, in the same domain)."""
    admin = client_for(roles=["admin"], factories=[factory], domains=["*"])
    made = {"factory": factory}
    for domain in DOMAINS:
        resp = admin.post("/api/v1/customers", json={"customer": {
            "name": f"客户{domain}-{uuid.uuid4().hex[:6]}", "type": "company", "business_domain": domain,
            "primary_contact_name": "张三", "primary_contact_phone": "13800138000"}})
        assert resp.status_code == 201, resp.text
        customer = resp.json()["data"]
        project = admin.post("/api/v1/projects", json={"name": f"项目{domain}", "customer_id": customer["id"]})
        assert project.status_code == 201, project.text
        contract = admin.post("/api/v1/contracts", json={"contract_no": f"HT-{domain}-{uuid.uuid4().hex[:8]}",
                                                         "customer_id": customer["id"],
                                                         "project_id": project.json()["data"]["id"]})
        assert contract.status_code == 201, contract.text
        assert admin.post(f"/api/v1/sync/customers/{customer['id']}").status_code == 200
        # An integrator of the domain records a viewing: its customer is created in that domain.
        user_id = f"scope/{domain}/{uuid.uuid4().hex[:6]}"
        integrator = client_for(roles=["integrator"], factories=[factory], domains=[domain])
        recorded = integrator.post(VIEWINGS, json={"userId": user_id, "property_name": "万科城",
                                                   "property_address": f"{domain}栋"})
        assert recorded.status_code == 200, recorded.text
        made[domain] = {"customer": customer["id"], "project": project.json()["data"]["id"],
                        "contract": contract.json()["data"]["id"], "user_id": user_id}
    # viewing-service learns the viewing customers' domains from their events.
    for domain in DOMAINS:
        reader = client_for(roles=["integrator"], factories=[factory], domains=[domain])
        assert wait_for(lambda: reader.get(f"{VIEWINGS}/{quoted(made[domain]['user_id'])}").status_code == 200,
                        timeout=20), f"viewing-service never learned the domain of {made[domain]['user_id']}"
    return made


def operations(resources: dict) -> list[tuple[str, str, dict | None]]:
    """Every read and write of one customer's rows (method, path, body)."""
    return [
        ("get", f"/api/v1/projects/{resources['project']}", None),
        ("get", f"/api/v1/projects?customer_id={resources['customer']}", None),
        ("put", f"/api/v1/projects/{resources['project']}", {"name": "改名"}),
        ("post", f"/api/v1/projects/{resources['project']}/sync-from-contract", None),
        ("get", f"/api/v1/contracts/{resources['contract']}", None),
        ("get", f"/api/v1/contracts?customer_id={resources['customer']}", None),
        ("put", f"/api/v1/contracts/{resources['contract']}", {"contract_no": f"HT-{uuid.uuid4().hex[:10]}"}),
        ("get", f"/api/v1/sync/history?customer_id={resources['customer']}", None),
        ("post", f"/api/v1/sync/customers/{resources['customer']}", None),
        ("post", "/api/v1/projects", {"name": "新项目", "customer_id": resources["customer"]}),
        ("get", f"{VIEWINGS}/{quoted(resources['user_id'])}", None),
    ]


CALLERS = {"D1 only": ["D1"], "D2 only": ["D2"], "no domains": []}


def test_every_foreign_pair_answers_404_and_every_own_pair_answers(client_for, owned):
    wrong, checked = [], 0
    for caller, domains in CALLERS.items():
        api = client_for(roles=["admin"], factories=[owned["factory"]], domains=domains)
        for domain in DOMAINS:
            own = domain in domains
            for method, path, body in operations(owned[domain]):
                resp = getattr(api, method)(path, json=body)
                checked += 1
                if (resp.status_code not in (200, 201)) if own else (resp.status_code != 404):
                    wrong.append((caller, domain, method, path, resp.status_code, resp.text[:200]))
        # Lists show only the caller's own domains.
        for path in ("/api/v1/projects", "/api/v1/contracts", "/api/v1/sync/history"):
            items = api.get(path, params={"page_size": 100}).json()["data"]["items"]
            if not {item["business_domain"] for item in items} <= set(domains):
                wrong.append((caller, "list", path, items))
    assert checked == len(CALLERS) * len(DOMAINS) * len(operations(owned["D1"]))
    assert not wrong, wrong
    print(f"\ndomain scope: {checked} caller x customer x operation pairs, "
          f"{sum(1 for c in CALLERS.values() for d in DOMAINS if d not in c) * len(operations(owned['D1']))} "
          f"of them foreign, all 404")


def test_a_user_id_with_slashes_and_reserved_characters_is_stored_and_read_back_through_the_gateway(
        client_for, factory):
    api = client_for(roles=["integrator"], factories=[factory])
    for user_id in ("agent/用户/1", "/lead?x=1#y", "a%2Fb", "dots/../.."):
        created = api.post(VIEWINGS, json={"userId": user_id, "property_name": "万科城"})
        assert created.status_code == 200, created.text
        resp = api.get(f"{VIEWINGS}/{quoted(user_id)}")
        assert resp.status_code == 200, (user_id, resp.text)
        records = resp.json()["data"]["data"]
        assert [(r["id"], r["userId"]) for r in records] == [(created.json()["data"]["viewing_record_id"], user_id)]
