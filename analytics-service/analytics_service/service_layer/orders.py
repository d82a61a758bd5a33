"""Order facts: recording orders, moving them along their lifecycle, reading one, and
applying other producers' order events. Every business rule is the domain's
(``domain/orders.py``: facts and lifecycle; ``domain/eligibility.py``: may this customer get
a new order); this module orders the steps and writes through the unit of work, events
included.

Recording (``record_orders``), for each order of a batch:
1. the order's facts are checked (a batch with a malformed order is a 400, nothing written);
2. a new order asks the customer's owner whether the customer may get one
   (``CustomerOwner.order_eligibility``, on behalf of the caller): unknown to the caller →
   404 naming the customer; refused → 409 naming every rule, unless an override lifts the
   overridable ones; the owner unreachable or slow → 503 for the whole batch, nothing
   written;
3. a recorded order may change only as its lifecycle allows (``check_change``), and only
   for a caller who may see its customer (the read model, else the owner);
4. in one transaction: the orders, their lines, their customers' totals, and one event per
   written order (``order.recorded`` for a new one, ``order.updated`` for a change); an
   order sent again unchanged writes nothing.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from crm_common.batch import batch_status
from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError, Conflict, NotFound, ValidationError
from crm_common.events import InvalidEvent, make_event

from ..contracts import PRODUCER, order_event_data
from ..domain import eligibility as rules
from ..domain import orders as order_rules
from ..domain.commands import ChangeOrder, OrderInput, RecordOrders
from .owner import CustomerOwner, OwnerUnavailable, unavailable
from .unit_of_work import AnalyticsUnitOfWork

CREATED, UPDATED, UNCHANGED, FAILED = "created", "updated", "unchanged", "failed"


@dataclass(frozen=True)
class OrderProblem:
    """Why one order was not written: an HTTP status, a code, a message and the field."""
    status: int
    code: str
    message: str
    field: str
    refusals: tuple[rules.Refusal, ...] = ()

    def error(self) -> AppError:
        """The same problem as the error of a single-order request (each refusing rule
        named under the field)."""
        messages = [f"{r.rule}: {r.message}" for r in self.refusals] or [self.message]
        kind = NotFound if self.status == 404 else Conflict
        return kind(self.message, error_code=self.code, errors={self.field: messages})


@dataclass(frozen=True)
class OrderOutcome:
    order_id: str
    outcome: str
    recorded: order_rules.RecordedOrder | None = None
    problem: OrderProblem | None = None


@dataclass
class RecordResult:
    outcomes: list[OrderOutcome] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes if o.outcome == outcome)

    @property
    def status(self) -> int:
        """crm_common.batch's rule: 200 all written (or unchanged), 207 some failed, 400 all failed."""
        failed = self.count(FAILED)
        return batch_status(len(self.outcomes) - failed, failed)


# --- building orders from commands ---------------------------------------------------------------

def build_orders(inputs: tuple[OrderInput, ...]) -> list[order_rules.Order]:
    """Domain orders from the caller's, or one 400 naming every failing field
    (``orders.<i>.<field>``)."""
    errors: dict[str, list[str]] = {}
    built, seen = [], {}
    for i, raw in enumerate(inputs):
        if raw.order_id in seen:
            errors.setdefault(f"orders.{i}.order_id", []).append(
                f"订单编号 {raw.order_id} 在本批次中重复（第 {seen[raw.order_id] + 1} 个订单）")
            continue
        seen[raw.order_id] = i
        if not raw.items and raw.total_amount is None:
            errors.setdefault(f"orders.{i}.total_amount", []).append("没有订单明细时必须提供订单金额")
            continue
        try:
            built.append(order_rules.build_order(
                order_id=raw.order_id, customer_id=raw.customer_id, order_date=raw.order_date, status=raw.status,
                payment_status=raw.payment_status or ("PAID" if raw.paid_date else "UNPAID"),
                items=[{"product_name": line.product_name, "quantity": line.quantity, "unit_price": line.unit_price,
                        "subtotal": line.subtotal} for line in raw.items],
                total_amount=raw.total_amount, due_date=raw.due_date, paid_date=raw.paid_date))
        except order_rules.OrderRejected as exc:
            for name, messages in exc.errors.items():
                errors.setdefault(f"orders.{i}.{name}", []).extend(messages)
    if errors:
        raise ValidationError("订单数据校验失败", errors=errors)
    return built


def _not_found(order_id: str) -> OrderProblem:
    return OrderProblem(404, "ORDER_NOT_FOUND", f"订单 {order_id} 不存在", "order_id")


def _customer_not_found(customer_id: int) -> OrderProblem:
    return OrderProblem(404, "CUSTOMER_NOT_FOUND", f"客户 {customer_id} 不存在", "customer_id")


def _refused(customer_id: int, refusals: tuple[rules.Refusal, ...]) -> OrderProblem:
    return OrderProblem(409, refusals[0].rule, rules.refusal_message(customer_id, refusals), "customer_id", refusals)


def _changed(exc: order_rules.OrderChangeRefused) -> OrderProblem:
    return OrderProblem(409, exc.code, exc.message, exc.field)


def visible_customers(uow: AnalyticsUnitOfWork, owner: CustomerOwner, ctx: RequestContext,
                      customer_ids) -> set[int]:
    """The customers among ``customer_ids`` the caller may see: in its tenant and business
    domains by the read model (deleted ones too: their orders stay readable), else by the
    owner for customers the read model does not know yet."""
    with uow:
        scopes = uow.read_model.customer_scopes(customer_ids)
    visible = {cid for cid, (factory, domain) in scopes.items()
               if factory == ctx.factory_id and ctx.scope.allows(domain)}
    try:
        for cid in sorted(set(customer_ids) - set(scopes)):
            if owner.customer(cid) is not None:
                visible.add(cid)
    except OwnerUnavailable as exc:
        raise unavailable(exc) from exc
    return visible


def _event(ctx: RequestContext, recorded: order_rules.RecordedOrder, previous: order_rules.Order | None,
           changed: list[str], now: dt.datetime) -> dict:
    order = recorded.order
    return make_event(
        event_type="order.recorded" if previous is None else "order.updated", producer=PRODUCER,
        aggregate_type="order", aggregate_id=recorded.pk, aggregate_version=recorded.version,
        factory_id=ctx.factory_id, trace_id=ctx.trace_id, actor=ctx.actor, changed_fields=changed,
        data=order_event_data(ctx.factory_id, order, recorded.version, previous.status if previous else None),
        occurred_at=now)


def _write(uow: AnalyticsUnitOfWork, ctx: RequestContext, writes: list[tuple[order_rules.Order, int,
           order_rules.Order | None, list[str]]], affected: set[int], now: dt.datetime) -> dict[str, order_rules.RecordedOrder]:
    """Save (order, version, previous, changed) tuples, recount their customers, write one
    event each and note the freshness of the order facts."""
    uow.orders.save(ctx.factory_id, [(order, version) for order, version, _p, _c in writes], source="api", now=now)
    recorded = uow.orders.get_many(ctx.factory_id, [order.order_id for order, _v, _p, _c in writes])
    last = None
    for order, _version, previous, changed in writes:
        last = _event(ctx, recorded[order.order_id], previous, changed, now)
        uow.add_event(last)
    uow.orders.refresh_totals(ctx.factory_id, affected)
    uow.read_model.refresh_due_dates(ctx.factory_id, affected)   # the last order date moved
    if last is not None:
        uow.freshness.note(uow.freshness.ORDERS, event_id=last["event_id"], event_type=last["event_type"],
                           occurred_at=now, count=len(writes))
    return recorded


# --- handlers ----------------------------------------------------------------------------------------

def record_orders(cmd: RecordOrders, uow: AnalyticsUnitOfWork, owner: CustomerOwner,
                  now: dt.datetime | None = None) -> RecordResult:
    """Record new orders and changes of recorded ones (module docstring); each order's
    outcome: created, updated, unchanged, or failed with its problem."""
    ctx, now = cmd.ctx, now or utcnow()
    orders = build_orders(cmd.orders)
    overrides = {raw.order_id: raw.override for raw in cmd.orders}
    ids = [order.order_id for order in orders]
    with uow:
        stored = uow.orders.get_many(ctx.factory_id, ids)
    problems: dict[str, OrderProblem] = {}
    visible = visible_customers(uow, owner, ctx, {r.order.customer_id for r in stored.values()})
    for order_id, recorded in stored.items():
        if recorded.order.customer_id not in visible:
            problems[order_id] = _not_found(order_id)

    new = [order for order in orders if order.order_id not in stored]
    try:
        answers = owner.order_eligibility({order.customer_id for order in new})
    except OwnerUnavailable as exc:
        raise unavailable(exc) from exc
    accepted_overrides: dict[str, order_rules.Override | None] = {}
    for order in new:
        answer = answers.get(order.customer_id)
        if answer is None:
            problems[order.order_id] = _customer_not_found(order.customer_id)
            continue
        decision = rules.decide(answer, overrides.get(order.order_id), operator_id=ctx.operator_id,
                                operator_name=ctx.operator_name, now=now)
        if decision.accepted:
            accepted_overrides[order.order_id] = decision.override
        else:
            problems[order.order_id] = _refused(order.customer_id, decision.refusals)

    outcomes: dict[str, OrderOutcome] = {}
    with uow:
        todo = [order for order in orders if order.order_id not in problems]
        customers = {order.customer_id for order in todo} | {stored[o.order_id].order.customer_id
                                                               for o in todo if o.order_id in stored}
        uow.orders.lock_customers(ctx.factory_id, customers)
        current = uow.orders.get_many(ctx.factory_id, [order.order_id for order in todo], lock=True)
        writes = []
        for order in todo:
            before = current.get(order.order_id)
            if before is None:
                writes.append((order.with_override(accepted_overrides.get(order.order_id)), 1, None, []))
                continue
            try:
                changed = order_rules.check_change(before.order, order)
            except order_rules.OrderChangeRefused as exc:
                problems[order.order_id] = _changed(exc)
                continue
            if not changed:
                outcomes[order.order_id] = OrderOutcome(order.order_id, UNCHANGED, before)
                continue
            # The override an order was recorded under stays part of its record.
            writes.append((order.with_override(before.order.override), before.version + 1, before.order, changed))
        recorded = _write(uow, ctx, writes, customers, now)
        uow.commit()
    for order_id, done in recorded.items():
        outcomes[order_id] = OrderOutcome(order_id, CREATED if done.version == 1 else UPDATED, done)
    for order_id, problem in problems.items():
        outcomes[order_id] = OrderOutcome(order_id, FAILED, problem=problem)
    return RecordResult([outcomes[order.order_id] for order in orders])


def change_order(cmd: ChangeOrder, uow: AnalyticsUnitOfWork, owner: CustomerOwner,
                 now: dt.datetime | None = None) -> tuple[str, order_rules.RecordedOrder]:
    """Move one order along its lifecycle and/or record its payment: (outcome, the order).
    404 for an order the caller cannot see; 409 naming the rule for a change the lifecycle
    refuses; an identical change writes nothing."""
    ctx, now = cmd.ctx, now or utcnow()
    before = get_order(uow, owner, ctx, cmd.order_id)
    try:
        after = order_rules.amend(before.order, status=cmd.status, payment_status=cmd.payment_status,
                                  paid_date=cmd.paid_date)
    except order_rules.OrderRejected as exc:
        raise ValidationError("订单数据校验失败", errors=exc.errors) from exc
    with uow:
        uow.orders.lock_customers(ctx.factory_id, [before.order.customer_id])
        current = uow.orders.get(ctx.factory_id, cmd.order_id, lock=True)
        try:
            changed = order_rules.check_change(current.order, after)
        except order_rules.OrderChangeRefused as exc:
            raise _changed(exc).error() from exc
        if not changed:
            return UNCHANGED, current
        recorded = _write(uow, ctx, [(after, current.version + 1, current.order, changed)],
                          {current.order.customer_id}, now)
        uow.commit()
    return UPDATED, recorded[cmd.order_id]


def get_order(uow: AnalyticsUnitOfWork, owner: CustomerOwner, ctx: RequestContext,
              order_id: str) -> order_rules.RecordedOrder:
    """One order of the tenant whose customer the caller may see, else 404."""
    with uow:
        recorded = uow.orders.get(ctx.factory_id, order_id)
    if recorded is None or recorded.order.customer_id not in visible_customers(uow, owner, ctx,
                                                                               [recorded.order.customer_id]):
        raise _not_found(order_id).error()
    return recorded


# --- other producers' order events (the consumer) ------------------------------------------------------

def apply_order_event(uow: AnalyticsUnitOfWork, factory_id: str, order: order_rules.Order, version: int,
                      source: str) -> bool:
    """Apply an order another producer (an ERP) recorded or changed, when its version is
    newer than the stored one; the lifecycle holds for them too (a change it refuses can
    never be applied: ``InvalidEvent``). True when written."""
    stored = uow.orders.get(factory_id, order.order_id)
    customers = {order.customer_id} | ({stored.order.customer_id} if stored else set())
    uow.orders.lock_customers(factory_id, customers)
    stored = uow.orders.get(factory_id, order.order_id, lock=True)
    if stored is not None:
        if stored.version >= version:
            return False
        try:
            order_rules.check_change(stored.order, order)
        except order_rules.OrderChangeRefused as exc:
            raise InvalidEvent(f"{exc.code}: {exc.message}") from exc
    uow.orders.save(factory_id, [(order, version)], source=source, now=utcnow())
    uow.orders.refresh_totals(factory_id, customers)
    uow.read_model.refresh_due_dates(factory_id, customers)
    return True
