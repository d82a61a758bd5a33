"""Business-domain scope of viewing records (CONTRACT §3, issue 13): a record belongs to its
customer, and the customer's domain comes from the customer events viewing-service consumes
(queue viewing-service.customer-domains). Outside the caller's domains a user's records are
404, as the customer itself is in customer-service."""
from __future__ import annotations

import urllib.parse

import pytest

from ..conftest import customer_event

URL = "/api/external/viewing-records"


def _record(client, headers, user_id, **fields):
    resp = client.post(URL, json={"userId": user_id, "property_name": "万科城", **fields}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]


def quoted(user_id: str) -> str:
    """As a client sends it: every reserved character percent-encoded, dots too (or HTTP
    clients would resolve "." and ".." as path segments)."""
    return urllib.parse.quote(user_id, safe="").replace(".", "%2E")


def _get(client, headers, user_id):
    return client.get(f"{URL}/{quoted(user_id)}", headers=headers)


@pytest.fixture
def integrator(headers_for, factory):
    def make(domains):
        return headers_for(roles=["integrator"], factories=[factory], domains=domains)
    return make


def test_a_users_records_are_404_outside_its_customers_domain(client, consumer, factory, integrator):
    created = _record(client, integrator(["*"]), "u-scope")
    assert consumer.apply(customer_event(created["customer_id"], factory, "D2", 1, "customer.created")) == "applied"
    for domains in (["D1"], []):
        resp = _get(client, integrator(domains), "u-scope")
        body = resp.get_json()
        assert resp.status_code == 404, (domains, body)
        assert body["success"] is False and body["error"] == "CUSTOMER_NOT_FOUND" and "userId" in body["errors"]
    for domains in (["D2"], ["*"], ["D1", "D2"]):
        page = _get(client, integrator(domains), "u-scope").get_json()["data"]
        assert page["total"] == 1 and page["data"][0]["id"] == created["viewing_record_id"], domains
    # A user with no records at all is still the seed's empty page, whatever the domains.
    assert _get(client, integrator(["D1"]), "u-nobody").get_json()["data"]["total"] == 0


def test_a_customer_moving_domain_takes_its_records_along_and_older_events_change_nothing(
        client, consumer, factory, integrator):
    customer_id = _record(client, integrator(["*"]), "u-move")["customer_id"]
    consumer.apply(customer_event(customer_id, factory, "D2", 2))
    moved = customer_event(customer_id, factory, "D1", 3)
    assert consumer.apply(moved) == "applied"
    assert _get(client, integrator(["D1"]), "u-move").status_code == 200
    assert _get(client, integrator(["D2"]), "u-move").status_code == 404
    assert consumer.apply(customer_event(customer_id, factory, "D2", 2)) == "stale"
    assert consumer.apply(moved) == "duplicate"
    assert _get(client, integrator(["D1"]), "u-move").status_code == 200


def test_until_the_customers_domain_is_known_only_every_domain_callers_see_its_records(
        client, factory, integrator):
    _record(client, integrator(["*"]), "u-unknown")
    assert _get(client, integrator(["DEFAULT"]), "u-unknown").status_code == 404
    assert _get(client, integrator(["*"]), "u-unknown").get_json()["data"]["total"] == 1


def test_writing_for_a_customer_of_another_domain_is_404_and_writes_nothing(
        client, consumer, factory, integrator, customer_service):
    # customer-service itself refuses the upsert of a D1 customer to a D2-only caller.
    created = _record(client, integrator(["D1"]), "u-d1-only")
    resp = client.post(URL, json={"userId": "u-d1-only", "property_name": "别处"}, headers=integrator(["D2"]))
    body = resp.get_json()
    assert resp.status_code == 404 and body["error"] == "CUSTOMER_NOT_FOUND" and "userId" in body["errors"]
    consumer.apply(customer_event(created["customer_id"], factory, "D1", 1, "customer.created"))
    assert _get(client, integrator(["D1"]), "u-d1-only").get_json()["data"]["total"] == 1


@pytest.mark.parametrize("user_id", ["agent/with/slash", "a%2Fb", "/leading", "trailing/", "a b?c#d&e=f",
                                     "带看/用户", "..", "a//b"])
def test_any_user_id_a_client_can_send_percent_encoded_is_stored_and_read_back(client, integrator, user_id):
    headers = integrator(["*"])
    created = _record(client, headers, user_id)
    resp = _get(client, headers, user_id)
    assert resp.status_code == 200, resp.get_json()
    page = resp.get_json()["data"]
    assert [(r["id"], r["userId"]) for r in page["data"]] == [(created["viewing_record_id"], user_id)]
