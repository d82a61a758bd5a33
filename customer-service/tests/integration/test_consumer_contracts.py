"""Consumer-driven contracts (issue 23): every call another service records in
``<consumer>/contracts/pacts/customer-service.json`` (viewing-service, analytics-service,
sync-worker) is replayed against customer-service's real app and database, each on a tenant
of its own with its provider state set up here (crm_testing.http_contracts; format in the
README, "Contracts between services")."""
from __future__ import annotations

import uuid

from crm_testing.http_contracts import pacts_for, replay_all


def _create_customer(client, headers_for, factory: str, **fields) -> dict:
    body = {"customer": {"name": f"契约客户-{uuid.uuid4().hex[:8]}", "type": "company",
                         "primary_contact_name": "王经理", "primary_contact_phone": "13800000000", **fields}}
    created = client.post("/api/v1/customers", json=body, headers=headers_for(factories=[factory]))
    assert created.status_code == 201, created.get_json()
    return created.get_json()["data"]


def states(client, headers_for) -> dict:
    def a_customer_exists(factory):
        customer = _create_customer(client, headers_for, factory)
        return {"customer_id": customer["id"], "after_id": customer["id"] - 1}

    def a_frozen_customer(factory):
        customer = _create_customer(client, headers_for, factory)
        frozen = client.patch(f"/api/v1/customers/{customer['id']}/status", json={"status": "frozen"},
                              headers=headers_for(factories=[factory]))
        assert frozen.status_code == 200, frozen.get_json()
        return {"customer_id": customer["id"]}

    def no_such_customer(_factory):
        return {"customer_id": 2 ** 62}

    def no_customer_with_this_user_id(_factory):
        return {"user_id": f"pact_user_{uuid.uuid4().hex[:10]}"}

    def a_customer_with_this_user_id_exists(factory):
        user_id = f"pact_user_{uuid.uuid4().hex[:10]}"
        made = client.post("/api/external/customers", json={"userId": user_id, "name": "李四", "phone": "13900000000"},
                           headers=headers_for(roles=["integrator"], factories=[factory]))
        assert made.status_code == 200, made.get_json()
        return {"user_id": user_id}

    return {"a customer exists": a_customer_exists, "a frozen customer": a_frozen_customer,
            "no such customer": no_such_customer, "no customer with this userId": no_customer_with_this_user_id,
            "a customer with this userId exists": a_customer_with_this_user_id_exists}


def test_every_consumers_recorded_calls_are_answered_as_they_expect(client, headers_for):
    consumers = {pact["consumer"] for pact in pacts_for("customer-service")}
    assert consumers >= {"viewing-service", "analytics-service", "sync-worker"}
    replayed = replay_all(client, "customer-service", states(client, headers_for),
                          lambda: f"F{uuid.uuid4().hex[:8].upper()}")
    assert replayed >= 10
