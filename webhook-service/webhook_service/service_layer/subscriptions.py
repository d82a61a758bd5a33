"""Use cases of the API: subscriptions (create, list, read, change, delete) and their
delivery log (list, redeliver, ping). A subscription belongs to the caller's tenant and
carries the caller's business domains; one the caller may not see is 404."""
from __future__ import annotations

import uuid
from dataclasses import dataclass

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import Conflict, Forbidden, NotFound, ValidationError
from crm_common.events import iso_z, json_dumps
from crm_common.paging import page_body

from ..domain import model, patterns
from ..domain.model import PENDING, Delivery, Subscription
from ..domain.signing import new_secret
from ..domain.targets import TargetPolicy, TargetRefused
from .unit_of_work import WebhookUnitOfWork

NOT_FOUND = "订阅不存在"
DELIVERY_NOT_FOUND = "投递记录不存在"
DELETED_REASON = "订阅已删除"
MANUAL_DEACTIVATION = "已手动停用"


@dataclass(frozen=True)
class CreateSubscription:
    url: str
    events: list[str]
    description: str | None = None


def create_subscription(uow: WebhookUnitOfWork, ctx: RequestContext, cmd: CreateSubscription,
                        targets: TargetPolicy, max_per_tenant: int) -> Subscription:
    """The new subscription, its ``secret`` included (the only time it is shown)."""
    checked = validated(targets, {"url": cmd.url, "events": cmd.events})
    all_domains, domains = model.domains_of(ctx.scope)
    if not all_domains and not domains:
        raise Forbidden("令牌不含任何业务域，订阅收不到任何事件")
    now = utcnow()
    with uow:
        if len(uow.subscriptions.live(ctx.factory_id)) >= max_per_tenant:
            raise Conflict(f"每个租户最多 {max_per_tenant} 个订阅", error_code="WEBHOOK_LIMIT")
        sub = uow.subscriptions.add(Subscription(
            factory_id=ctx.factory_id, url=checked["url"], events=checked["events"], secret=new_secret(), all_domains=all_domains,
            domains=domains, description=cmd.description, created_at=now, created_by=ctx.operator_id,
            created_by_name=ctx.operator_name, updated_at=now, updated_by=ctx.operator_id))
        uow.commit()
    return sub


def list_subscriptions(uow: WebhookUnitOfWork, ctx: RequestContext, *, page: int, page_size: int) -> dict:
    """The tenant's subscriptions the caller may see, newest first (a tenant has at most
    ``WEBHOOK_MAX_SUBSCRIPTIONS_PER_TENANT``, so they are filtered in memory)."""
    with uow:
        visible = [s for s in uow.subscriptions.live(ctx.factory_id) if s.visible_to(ctx.scope)]
    start = (page - 1) * page_size
    return page_body(visible[start:start + page_size], len(visible), page, page_size)


def get_subscription(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int) -> Subscription:
    with uow:
        return _visible(uow, ctx, subscription_id)


def update_subscription(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int, changes: dict,
                        targets: TargetPolicy) -> Subscription:
    """``url``, ``events``, ``description``, ``active``. Reactivating clears the failure
    counters and the reason; what was still pending is sent again from then on."""
    changes = validated(targets, changes)
    now = utcnow()
    with uow:
        sub = _visible(uow, ctx, subscription_id)
        for name in ("url", "events", "description"):
            if name in changes:
                setattr(sub, name, changes[name])
        if changes.get("active") is True and not sub.active:
            sub.active, sub.deactivated_at, sub.deactivated_reason = True, None, None
            sub.failed_attempts, sub.failed_deliveries, sub.paused_until = 0, 0, None
        elif changes.get("active") is False and sub.active:
            sub.active, sub.deactivated_at, sub.deactivated_reason = False, now, MANUAL_DEACTIVATION
        sub.updated_at, sub.updated_by, sub.version = now, ctx.operator_id, sub.version + 1
        uow.subscriptions.save(sub)
        uow.commit()
    return sub


def delete_subscription(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int) -> None:
    """Soft delete; what was still pending is given up (``failed``, reason in ``last_error``)."""
    now = utcnow()
    with uow:
        sub = _visible(uow, ctx, subscription_id)
        sub.deleted_at, sub.active, sub.updated_at, sub.updated_by = now, False, now, ctx.operator_id
        sub.version += 1
        uow.subscriptions.save(sub)
        uow.deliveries.give_up_pending(sub.id, now, DELETED_REASON)
        uow.commit()


def list_deliveries(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int, *, state: str | None,
                    event_id: str | None, page: int, page_size: int) -> dict:
    with uow:
        _visible(uow, ctx, subscription_id)
        items, total = uow.deliveries.page(subscription_id, state=state, event_id=event_id,
                                           page=page, page_size=page_size)
    return page_body(items, total, page, page_size)


def redeliver(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int, delivery_id: int) -> Delivery:
    """Send a delivered or failed delivery's event again, as a new delivery (same
    ``X-CRM-Event-Id``, new ``X-CRM-Delivery-Id``; ``redelivery_of`` names the original)."""
    now = utcnow()
    with uow:
        _visible(uow, ctx, subscription_id)
        original = uow.deliveries.get(subscription_id, delivery_id)
        if original is None:
            raise NotFound(DELIVERY_NOT_FOUND)
        if original.state == PENDING:
            raise Conflict("该投递仍在进行中，无需重新投递", error_code="DELIVERY_PENDING")
        again = uow.deliveries.add(Delivery(
            subscription_id=subscription_id, factory_id=original.factory_id, event_id=original.event_id,
            event_type=original.event_type, aggregate_type=original.aggregate_type,
            aggregate_id=original.aggregate_id, aggregate_version=original.aggregate_version,
            state=PENDING, next_attempt_at=now, created_at=now, redelivery_of=original.id))
        uow.deliveries.announce()
        uow.commit()
    return again


def ping(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int) -> Delivery:
    """Queue a signed ``webhook.ping`` (the §5 event shape, ``data`` describing the
    subscription). It is sent once, no retries, even to an inactive subscription: a way to
    test a receiver before reactivating it."""
    now = utcnow()
    with uow:
        sub = _visible(uow, ctx, subscription_id)
        event_id = str(uuid.uuid4())
        event = {"event_id": event_id, "event_type": patterns.PING, "occurred_at": iso_z(now),
                 "producer": "webhook-service", "aggregate_type": "webhook", "aggregate_id": event_id,
                 "aggregate_version": 1, "factory_id": sub.factory_id, "trace_id": ctx.trace_id,
                 "actor": ctx.actor, "changed_fields": [],
                 "data": {"subscription_id": sub.id, "url": sub.url, "events": sub.events}, "options": {}}
        uow.events.add(event_id=event_id, factory_id=sub.factory_id, event_type=patterns.PING,
                       aggregate_type="webhook", aggregate_id=event_id, aggregate_version=1,
                       customer_id=None, business_domain=None, awaiting_domain=False, occurred_at=now,
                       payload=json_dumps(event), received_at=now)
        delivery = uow.deliveries.add(Delivery(
            subscription_id=sub.id, factory_id=sub.factory_id, event_id=event_id, event_type=patterns.PING,
            aggregate_type="webhook", aggregate_id=event_id, aggregate_version=1, state=PENDING,
            next_attempt_at=now, created_at=now))
        uow.deliveries.announce()
        uow.commit()
    return delivery


# --- rules shared by create and update -----------------------------------------------------------

def validated(targets: TargetPolicy, changes: dict) -> dict:
    """``changes`` with ``url`` and ``events`` (when present) checked and normalised; one
    400 naming every field that fails."""
    out, errors = dict(changes), {}
    if "url" in changes:
        try:
            out["url"] = targets.check(changes["url"]).url
        except TargetRefused as exc:
            errors["url"] = [str(exc)]
    if "events" in changes:
        problems = [msg for msg in map(patterns.pattern_error, changes["events"]) if msg]
        if not changes["events"]:
            problems.append("请至少订阅一种事件")
        if problems:
            errors["events"] = problems
        else:
            out["events"] = patterns.normalise(changes["events"])
    if errors:
        raise ValidationError("请求参数错误", errors=errors)
    return out


def _visible(uow: WebhookUnitOfWork, ctx: RequestContext, subscription_id: int) -> Subscription:
    sub = uow.subscriptions.get(ctx.factory_id, subscription_id)
    if sub is None or not sub.visible_to(ctx.scope):
        raise NotFound(NOT_FOUND)
    return sub
