"""The events customer-service publishes, declared (``crm_common.contracts``): the ``data``
of ``customer.created``, ``customer.updated`` and ``customer.deleted`` is the whole customer
after the change, field by field as ``CustomerEventData`` lists it (version 1). A field may
be added within a version, never removed, renamed or narrowed: readers are
analytics-service, sync-worker and webhook-service (outside systems).

``customer_event`` is the one place that builds them; tests validate every event they see
written against ``CATALOG``."""
from __future__ import annotations

from typing import Iterable

import marshmallow as ma
from marshmallow import fields as f

from crm_common.context import RequestContext
from crm_common.contracts import EventCatalog, EventContract
from crm_common.events import make_event

from .domain.model import Customer

PRODUCER = "customer-service"


class CustomerEventData(ma.Schema):
    """The customer as every customer event carries it (snake_case, model names)."""
    id = f.Integer(required=True)
    factory_id = f.String(required=True)
    business_domain = f.String(required=True)
    customer_code = f.String(required=True)
    name = f.String(allow_none=True, required=True, metadata={"description": "null for some seed 002 customers"})
    type = f.String(allow_none=True, metadata={"enum": ["company", "individual", "dealer", "retail"]})
    value_level = f.String(allow_none=True)
    status = f.String(required=True, metadata={"enum": ["potential", "active", "inactive", "frozen", "blacklisted"]})
    business_license_number = f.String(allow_none=True)
    industry_type = f.String(allow_none=True)
    company_size = f.String(allow_none=True)
    primary_contact_name = f.String(allow_none=True)
    primary_contact_phone = f.String(allow_none=True)
    email = f.String(allow_none=True)
    address = f.String(allow_none=True)
    tax_number = f.String(allow_none=True)
    credit_limit = f.Decimal(required=True, as_string=False)
    current_balance = f.Decimal(required=True, as_string=False, metadata={"description": "negative: the customer owes"})
    payment_terms = f.Integer(required=True)
    rating = f.Integer(required=True)
    rating_notes = f.String(allow_none=True)
    notes = f.String(allow_none=True)
    source = f.String(required=True)
    source_ref_id = f.String(allow_none=True)
    company_id = f.Integer(allow_none=True)
    external_user_id = f.String(allow_none=True, metadata={"description": "seed 002 userId"})
    bot_id = f.String(allow_none=True)
    nickname = f.String(allow_none=True)
    backup_phone = f.String(allow_none=True)
    wechat = f.String(allow_none=True)
    lead_status = f.Integer(allow_none=True)
    community = f.String(allow_none=True)
    business_type = f.String(allow_none=True)
    room_type = f.String(allow_none=True)
    room_tags = f.String(allow_none=True)
    move_in_date = f.Date(allow_none=True)
    lease_period = f.Integer(allow_none=True)
    price_range = f.String(allow_none=True)
    source_channel = f.String(allow_none=True)
    creator = f.String(allow_none=True)
    internal_notes = f.String(allow_none=True)
    viewing_count = f.Integer(required=True)
    total_commission = f.Decimal(required=True, as_string=False)
    debt_since = f.DateTime(allow_none=True, metadata={"description": "when the current debt began"})
    last_payment_date = f.Date(allow_none=True)
    version = f.Integer(required=True)
    created_at = f.DateTime(required=True)
    created_by = f.String(allow_none=True)
    created_by_name = f.String(allow_none=True)
    updated_at = f.DateTime(required=True)
    updated_by = f.String(allow_none=True)
    updated_by_name = f.String(allow_none=True)
    status_changed_at = f.DateTime(allow_none=True)
    status_changed_by = f.String(allow_none=True)
    status_changed_by_name = f.String(allow_none=True)
    deleted_at = f.DateTime(allow_none=True, metadata={"description": "set on customer.deleted (soft delete)"})
    deleted_by = f.String(allow_none=True)


EVENT_FIELDS = tuple(CustomerEventData._declared_fields)

CATALOG = EventCatalog(PRODUCER, [
    EventContract("customer.created", 1, CustomerEventData, "A customer was created (any surface, import, bulk)."),
    EventContract("customer.updated", 1, CustomerEventData,
                  "A customer changed; `changed_fields` names what changed, `options.auto_sync` (seed 004) "
                  "says whether projects and contracts follow."),
    EventContract("customer.deleted", 1, CustomerEventData, "A customer was soft-deleted (`deleted_at` set)."),
])


def customer_data(customer: Customer) -> dict:
    """The event ``data`` of a customer (the fields of ``CustomerEventData``)."""
    return {name: getattr(customer, name, None) for name in EVENT_FIELDS}


def customer_event(customer: Customer, event_type: str, ctx: RequestContext, changed: Iterable[str] = (),
                   options: dict | None = None) -> dict:
    return make_event(
        event_type=event_type, producer=PRODUCER, aggregate_type="customer", aggregate_id=customer.id,
        aggregate_version=customer.version, factory_id=customer.factory_id, trace_id=ctx.trace_id,
        actor=ctx.actor, changed_fields=changed, options=options, data=customer_data(customer))
