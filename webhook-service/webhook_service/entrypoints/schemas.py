"""Request and response schemas of /api/v1/webhooks (snake_case, CONTRACT §6)."""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields as f
from marshmallow import validate

from crm_common.schemas import BaseSchema, IsoDateTime, in_range, length, one_of

from ..domain import model, patterns

_EVENTS_DOC = ("Event types to receive: `*` (all), a family (`customer.*`, `viewing.*`, `order.*`) "
               "or exact types of CONTRACT §5 (`customer.updated`, `viewing.recorded`, ...)")


class PageQuerySchema(BaseSchema):
    page = f.Integer(load_default=1, validate=in_range(1, 100000))
    page_size = f.Integer(load_default=20, validate=in_range(1, 100))


class _PageSchema(ma.Schema):
    total = f.Integer()
    page = f.Integer()
    page_size = f.Integer()
    total_pages = f.Integer()


class WebhookCreateSchema(BaseSchema):
    url = f.String(required=True, validate=length(1, 2048), metadata={
        "description": "Receiver URL. Production: https to a public address only (or a host of WEBHOOK_ALLOWED_HOSTS)"})
    events = f.List(f.String(validate=length(1, 64)), required=True,
                    validate=validate.Length(1, patterns.MAX_PATTERNS,
                                             error=f"需要 1-{patterns.MAX_PATTERNS} 个事件模式"),
                    metadata={"description": _EVENTS_DOC})
    description = f.String(validate=length(max_=500), allow_none=True)


class WebhookUpdateSchema(BaseSchema):
    url = f.String(validate=length(1, 2048))
    events = f.List(f.String(validate=length(1, 64)),
                    validate=validate.Length(1, patterns.MAX_PATTERNS,
                                             error=f"需要 1-{patterns.MAX_PATTERNS} 个事件模式"),
                    metadata={"description": _EVENTS_DOC})
    description = f.String(validate=length(max_=500), allow_none=True)
    active = f.Boolean(truthy={True}, falsy={False}, metadata={
        "description": "false pauses deliveries; true reactivates (clears the failure counters and reason)"})

    @ma.post_load
    def not_empty(self, data, **_):
        if not data:
            raise ma.ValidationError("至少需要提供一个要更新的字段", field_name="_schema")
        return data


class WebhookSchema(ma.Schema):
    id = f.Integer()
    factory_id = f.String()
    url = f.String()
    events = f.List(f.String())
    description = f.String(allow_none=True)
    domains = f.List(f.String(), attribute="shown_domains", metadata={
        "description": "Business domains whose events it receives (the creating token's; `*` = all)"})
    active = f.Boolean()
    deactivated_at = IsoDateTime(allow_none=True)
    deactivated_reason = f.String(allow_none=True, metadata={
        "description": "Why it is inactive: deactivated by hand, or after failing deliveries"})
    consecutive_failed_deliveries = f.Integer(attribute="failed_deliveries", metadata={
        "description": "Deliveries given up in a row (WEBHOOK_DEACTIVATE_AFTER_FAILED_DELIVERIES deactivates)"})
    consecutive_failed_attempts = f.Integer(attribute="failed_attempts")
    paused_until = IsoDateTime(allow_none=True, metadata={
        "description": "Receiver left alone until then after failed attempts in a row"})
    created_at = IsoDateTime()
    created_by = f.String(allow_none=True)
    updated_at = IsoDateTime()
    updated_by = f.String(allow_none=True)
    version = f.Integer()


class WebhookCreatedSchema(WebhookSchema):
    secret = f.String(metadata={"description": "HMAC-SHA256 key of X-CRM-Signature. Shown once, here only"})


class WebhookPageSchema(_PageSchema):
    items = f.List(f.Nested(WebhookSchema))


class DeliveryQuerySchema(PageQuerySchema):
    state = f.String(validate=one_of(model.STATES, "状态"))
    event_id = f.String(validate=length(1, 36))


class DeliverySchema(ma.Schema):
    id = f.Integer(metadata={"description": "Sent as X-CRM-Delivery-Id"})
    subscription_id = f.Integer()
    event_id = f.String(metadata={"description": "Sent as X-CRM-Event-Id (receivers dedupe by it)"})
    event_type = f.String()
    aggregate_type = f.String()
    aggregate_id = f.String()
    aggregate_version = f.Integer()
    state = f.String(metadata={"description": "pending / delivered / failed"})
    attempts = f.Integer()
    last_status_code = f.Integer(allow_none=True)
    last_error = f.String(allow_none=True)
    last_duration_ms = f.Integer(allow_none=True)
    last_attempt_at = IsoDateTime(allow_none=True)
    next_attempt_at = IsoDateTime(allow_none=True, metadata={"description": "While pending: when it is tried next"})
    delivered_at = IsoDateTime(allow_none=True)
    created_at = IsoDateTime()
    redelivery_of = f.Integer(allow_none=True, metadata={"description": "A manual redelivery: the delivery it repeats"})


class DeliveryPageSchema(_PageSchema):
    items = f.List(f.Nested(DeliverySchema))


class DeletedSchema(ma.Schema):
    id = f.Integer()
    deleted = f.Boolean()
