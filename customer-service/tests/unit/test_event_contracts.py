"""customer-service's event contracts (``events.CATALOG``): the data of every customer event
is the whole customer, field by field, and its JSON Schema is published per version."""
from __future__ import annotations

import pytest

from crm_common.events import InvalidEvent
from customer_service.adapters import orm
from customer_service.domain.model import new_customer
from customer_service.events import CATALOG, EVENT_FIELDS, customer_event


def test_the_event_data_declares_every_column_of_the_customer():
    assert set(EVENT_FIELDS) == set(orm.customers.columns.keys())


def test_an_event_built_from_a_customer_keeps_its_contract_and_a_broken_one_does_not(ctx):
    import datetime as dt
    customer = new_customer("F1", {"name": "甲"}, operator_id="u", operator_name="n",
                            now=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc))
    customer.id, customer.version = 7, 1
    event = customer_event(customer, "customer.created", ctx)
    CATALOG.validate(event)
    event["data"]["version"] = "one"
    with pytest.raises(InvalidEvent, match="version"):
        CATALOG.validate(event)


def test_each_event_type_has_a_versioned_json_schema():
    schemas = CATALOG.json_schemas()
    assert set(schemas) == {"customer.created", "customer.updated", "customer.deleted"}
    assert schemas["customer.updated"]["$id"] == "urn:crm:event:customer.updated:v1"
    assert "current_balance" in schemas["customer.updated"]["properties"]["data"]["properties"]
