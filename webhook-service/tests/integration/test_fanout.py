"""The consumer's handler on a real database (the shared consumer's transaction and
event_id dedupe): which subscriptions get a delivery of which event."""
from __future__ import annotations

import sqlalchemy as sa

from webhook_service.adapters.orm import events


def test_an_event_reaches_each_active_subscription_of_its_tenant_type_and_domain(
        consumer, subscribe, customer_events, deliveries_of, factory, client, headers_for):
    d1_customers = subscribe(factory, "/d1", ["customer.*"], domains=["D1"])
    d2_customers = subscribe(factory, "/d2", ["customer.*"], domains=["D2"])
    everything = subscribe(factory, "/all", ["*"])
    viewings_only = subscribe(factory, "/viewings", ["viewing.*"])
    paused = subscribe(factory, "/paused", ["customer.*"])
    client.patch(f"/api/v1/webhooks/{paused['id']}", json={"active": False}, headers=headers_for(factories=[factory]))
    other_tenant = subscribe("OTHER" + factory, "/other", ["*"])

    customer = customer_events(factory, domain="D1")
    event = customer.created()
    assert consumer.apply(event) == "applied"

    def event_ids(sub, tenant=factory):
        return [d["event_id"] for d in deliveries_of(tenant, sub["id"])]
    assert event_ids(d1_customers) == [event["event_id"]]
    assert event_ids(everything) == [event["event_id"]]
    assert event_ids(d2_customers) == event_ids(viewings_only) == event_ids(paused) == []
    assert event_ids(other_tenant, "OTHER" + factory) == []
    [delivery] = deliveries_of(factory, d1_customers["id"])
    assert (delivery["event_type"], delivery["aggregate_type"], delivery["aggregate_id"],
            delivery["aggregate_version"], delivery["state"]) == (
        "customer.created", "customer", str(customer.id), 1, "pending")


def test_a_redelivered_event_is_recorded_once_and_an_older_version_is_still_forwarded(
        consumer, subscribe, customer_events, deliveries_of, factory):
    sub = subscribe(factory, "/dedupe", ["customer.*"])
    customer = customer_events(factory)
    v1, v2 = customer.created(), customer.updated(name="新名称")
    assert consumer.apply(v2) == "applied"
    assert consumer.apply(v2) == "duplicate"
    assert consumer.apply(v1) == "applied"  # late, but a receiver must still get it
    assert sorted(d["aggregate_version"] for d in deliveries_of(factory, sub["id"])) == [1, 2]


def test_a_viewing_of_a_customer_whose_domain_is_unknown_waits_for_it_then_reaches_only_that_domain(
        consumer, subscribe, customer_events, viewing_events, deliveries_of, factory):
    everything = subscribe(factory, "/v-all", ["viewing.*"])
    d1 = subscribe(factory, "/v-d1", ["viewing.*"], domains=["D1"])
    d2 = subscribe(factory, "/v-d2", ["viewing.*", "customer.*"], domains=["D2"])
    customer = customer_events(factory, domain="D1")
    viewing = viewing_events(factory, customer.id)

    consumer.apply(viewing)  # no customer event seen yet: domain unknown
    assert [d["event_id"] for d in deliveries_of(factory, everything["id"])] == [viewing["event_id"]]
    assert deliveries_of(factory, d1["id"]) == [] and deliveries_of(factory, d2["id"]) == []

    consumer.apply(customer.created())  # tells the customer's domain: D1
    assert [d["event_id"] for d in deliveries_of(factory, d1["id"])] == [viewing["event_id"]]
    assert deliveries_of(factory, d2["id"]) == []
    assert len(deliveries_of(factory, everything["id"])) == 1  # not twice

    later = viewing_events(factory, customer.id)  # domain known now: at once
    consumer.apply(later)
    assert [d["event_id"] for d in deliveries_of(factory, d1["id"])] == [viewing["event_id"], later["event_id"]]
    assert deliveries_of(factory, d2["id"]) == []


def test_a_customer_moving_to_another_domain_is_followed(consumer, subscribe, customer_events, viewing_events,
                                                         deliveries_of, factory):
    d1 = subscribe(factory, "/m-d1", ["*"], domains=["D1"])
    d2 = subscribe(factory, "/m-d2", ["*"], domains=["D2"])
    customer = customer_events(factory, domain="D1")
    consumer.apply(customer.created())
    consumer.apply(customer.updated(business_domain="D2"))
    consumer.apply(viewing_events(factory, customer.id))
    assert [d["event_type"] for d in deliveries_of(factory, d1["id"])] == ["customer.created"]
    assert [d["event_type"] for d in deliveries_of(factory, d2["id"])] == ["customer.updated", "viewing.recorded"]


def test_events_without_a_tenant_or_a_matching_subscription_store_nothing(consumer, customer_events, factory,
                                                                        engine):
    nobody = customer_events(factory).created()
    no_tenant = dict(customer_events(factory).created(), factory_id=None)
    assert consumer.apply(nobody) == "applied" and consumer.apply(no_tenant) == "applied"
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(events).where(
            events.c.event_id.in_([nobody["event_id"], no_tenant["event_id"]]))).scalar_one()
    assert stored == 0
