"""Recording order facts (``POST /api/v1/analytics/orders``): validate each order by the
domain rules, upsert them by order id within the tenant, and write one ``order.recorded``
event per written order to the outbox, all in one transaction."""
from __future__ import annotations

import datetime as dt

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import ValidationError
from crm_common.events import make_event

from ..domain import orders as order_rules
from .unit_of_work import AnalyticsUnitOfWork

PRODUCER = "analytics-service"


def order_event_data(factory_id: str, order: order_rules.Order, version: int) -> dict:
    """The ``data`` of ``order.recorded`` (README: "order.recorded")."""
    return {
        "order_id": order.order_id, "factory_id": factory_id, "customer_id": str(order.customer_id),
        "order_date": order.order_date, "total_amount": order.total_amount, "status": order.status,
        "payment_status": order.payment_status, "due_date": order.due_date, "paid_date": order.paid_date,
        "items": [{"product_name": line.product_name, "quantity": line.quantity,
                   "unit_price": line.unit_price, "subtotal": line.subtotal} for line in order.items],
        "version": version,
    }


def build_orders(payload: list[dict]) -> list[order_rules.Order]:
    """Domain orders from the validated request, or one 400 naming every failing field."""
    errors: dict[str, list[str]] = {}
    built, seen = [], {}
    for i, raw in enumerate(payload):
        if raw["order_id"] in seen:
            errors.setdefault(f"orders.{i}.order_id", []).append(
                f"订单编号 {raw['order_id']} 在本批次中重复（第 {seen[raw['order_id']] + 1} 个订单）")
            continue
        seen[raw["order_id"]] = i
        if not raw.get("items") and raw.get("total_amount") is None:
            errors.setdefault(f"orders.{i}.total_amount", []).append("没有订单明细时必须提供订单金额")
            continue
        try:
            built.append(order_rules.build_order(
                order_id=raw["order_id"], customer_id=raw["customer_id"], order_date=raw["order_date"],
                status=raw["status"],
                payment_status=raw.get("payment_status") or ("PAID" if raw.get("paid_date") else "UNPAID"),
                items=raw.get("items") or [], total_amount=raw.get("total_amount"),
                due_date=raw.get("due_date"), paid_date=raw.get("paid_date")))
        except order_rules.OrderRejected as exc:
            for field, messages in exc.errors.items():
                errors.setdefault(f"orders.{i}.{field}", []).extend(messages)
    if errors:
        raise ValidationError("订单数据校验失败", errors=errors)
    return built


def store_orders(uow: AnalyticsUnitOfWork, factory_id: str, orders: list[order_rules.Order], *, source: str,
                 versions: dict[str, int] | None = None,
                 now: dt.datetime | None = None) -> dict[str, tuple[int, int, bool]]:
    """Upsert orders of one tenant by order id (their lines replaced) and recount their
    customers' totals, inside the caller's unit of work.

    ``versions`` (order id -> version) makes it conditional: an order is written only when
    its version is newer than the stored one (events). Without it every order is written
    and its version goes up by one (the API). Returns order id -> (row id, version, created)."""
    now = now or utcnow()
    ids = [order.order_id for order in orders]
    affected = sorted({order.customer_id for order in orders} | uow.orders.customers_of(factory_id, ids))
    uow.orders.lock_customers(factory_id, affected)
    existing = uow.orders.versions(factory_id, ids, lock=True)
    todo = [(order, versions[order.order_id] if versions else existing.get(order.order_id, (0, 0))[1] + 1)
            for order in orders
            if versions is None or existing.get(order.order_id, (0, 0))[1] < versions[order.order_id]]
    if not todo:
        return {}
    pks = uow.orders.save(factory_id, todo, source=source, now=now)
    uow.orders.refresh_totals(factory_id, affected)
    return {order.order_id: (pks[order.order_id], version, order.order_id not in existing) for order, version in todo}


def record_orders(uow: AnalyticsUnitOfWork, ctx: RequestContext, payload: list[dict],
                  now: dt.datetime | None = None) -> dict:
    """Upsert a batch (≤ 1000) of orders of the request's tenant; same order id again
    replaces the order and its lines (never a duplicate)."""
    orders = build_orders(payload)
    now = now or utcnow()
    with uow:
        written = store_orders(uow, ctx.factory_id, orders, source="api", now=now)
        last = None
        for order in orders:
            pk, version, _created = written[order.order_id]
            last = make_event(event_type="order.recorded", producer=PRODUCER, aggregate_type="order",
                              aggregate_id=pk, aggregate_version=version, factory_id=ctx.factory_id,
                              trace_id=ctx.trace_id, actor=ctx.actor,
                              data=order_event_data(ctx.factory_id, order, version), occurred_at=now)
            uow.add_event(last)
        uow.freshness.note(uow.freshness.ORDERS, event_id=last and last["event_id"], event_type="order.recorded",
                           occurred_at=now, count=len(orders))
        uow.commit()
    created = sum(1 for _pk, _v, is_new in written.values() if is_new)
    return {"received": len(orders), "created": created, "updated": len(orders) - created,
            "orders": [{"order_id": o.order_id, "version": written[o.order_id][1]} for o in orders]}
