"""The events viewing-service produces, declared (``CATALOG``) next to the code that builds
them: ``viewing.recorded`` (a new record) and ``viewing.updated`` (a record that changed),
``aggregate_type`` ``viewing_record``, ``aggregate_version`` the record's version, ``data``
the whole record. Its tests validate every event written against ``CATALOG``; consumers
(customer-service's counts, analytics) rely on the fields marked required."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f

from crm_common.context import RequestContext
from crm_common.contracts import EventCatalog, EventContract
from crm_common.events import make_event

from ..adapters import orm
from ..domain.model import ViewingRecord

PRODUCER = "viewing-service"
AGGREGATE = "viewing_record"
RECORDED, UPDATED = "viewing.recorded", "viewing.updated"


def _time(required: bool = False):
    return f.AwareDateTime(required=required, allow_none=not required, metadata={"format": "date-time"})


def _text(required: bool = False):
    return f.String(required=required, allow_none=not required)


def _int(required: bool = False):
    return f.Integer(required=required, allow_none=not required)


class ViewingRecordData(ma.Schema):
    """``data`` of both event types: the record after the change (seed 002 带看记录, snake_case)."""
    id = _int(True)
    factory_id = _text(True)
    user_id = _text(True)
    customer_id = _int(True)
    customer_name = _text()
    customer_phone = _text()
    bot_id = _text()
    viewing_time = _time(True)
    property_name = _text(True)
    property_address = _text()
    room_type = _text(True)
    room_tag = _text()
    viewer_name = _text(True)
    viewing_status = f.Integer(required=True, validate=ma.validate.Range(1, 4),
                               metadata={"description": "1 待确认 2 已确认 3 已取消 4 已带看"})
    commission = f.Float(required=True, validate=ma.validate.Range(min=0))
    viewing_feedback = f.Integer(allow_none=True, validate=ma.validate.OneOf([0, 1]),
                                 metadata={"description": "0 未成交 1 已成交"})
    business_type = _text(True)
    notes = _text()
    housing_id = _int()
    house_area_id = _int()
    house_area_name = _text()
    city_id = _int()
    city_name = _text()
    property_addr_id = _int()
    unit_type = _text()
    longitude = _text()
    latitude = _text()
    room_id = _int()
    advisor_id = _int()
    advisor_name = _text()
    company_name = _text()
    company_abbreviation = _text()
    house_type_id = _int()
    external_property_enriched = f.Boolean(required=True)
    external_property_data = f.Dict(allow_none=True)
    version = _int(True)
    created_at = _time(True)
    created_by = _text()
    updated_at = _time(True)
    updated_by = _text()


CATALOG = EventCatalog(PRODUCER, [
    EventContract(RECORDED, 1, ViewingRecordData, "A viewing was recorded (a new record)."),
    EventContract(UPDATED, 1, ViewingRecordData, "A recorded viewing changed; `changed_fields` names what."),
])


def record_state(record: ViewingRecord) -> dict:
    """The whole record as events and the snapshot carry it."""
    return {col.name: getattr(record, col.name, None) for col in orm.viewing_records.columns
            if col.name != "identity_key"}


def viewing_event(event_type: str, ctx: RequestContext, record: ViewingRecord, changed=()) -> dict:
    return make_event(event_type=event_type, producer=PRODUCER, aggregate_type=AGGREGATE, aggregate_id=record.id,
                      aggregate_version=record.version, factory_id=record.factory_id, trace_id=ctx.trace_id,
                      actor=ctx.actor, changed_fields=changed, data=record_state(record))
