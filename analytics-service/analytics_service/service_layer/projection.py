"""The read model's projection: how each event (or snapshot row) changes analytics' tables.

The consumer's handlers are registered below next to the event types they handle
(``handlers``, a ``crm_common.events.EventHandlers``). The consumer base has already
deduplicated each event by ``event_id`` and dropped it when its ``aggregate_version`` is not
newer, in the same transaction; each handler gets ``AnalyticsUnitOfWork`` bound to that
transaction. Upserts also refuse to replace a row by an older version, so a snapshot
rebuild and in-flight events can never move a row backwards."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Callable

from crm_common.db import utcnow
from crm_common.events import EventHandlers, InvalidEvent

from ..contracts import PRODUCER
from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from .orders import apply_order_event
from .unit_of_work import AnalyticsUnitOfWork

handlers = EventHandlers()
CUSTOMER_EVENTS = frozenset({"customer.created", "customer.updated", "customer.deleted"})
ORDER_EVENTS = frozenset({"order.recorded", "order.updated"})


# --- parsing the producers' data -------------------------------------------------------------

def _decimal(value, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise InvalidEvent(f"not a number: {value!r}") from exc


def _moment(value) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        moment = value
    else:
        try:
            moment = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEvent(f"not an ISO 8601 time: {value!r}") from exc
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment.astimezone(dt.timezone.utc)


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError as exc:
        raise InvalidEvent(f"not a date: {value!r}") from exc


def _int(value, default=None):
    if value in (None, ""):
        return default
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(f"not an integer: {value!r}") from exc


def customer_row(data: dict, version: int, factory_id: str | None = None) -> dict:
    """A customer (event ``data`` or snapshot row) as a row of the read model."""
    balance = _decimal(data.get("current_balance"))
    debt_since = _moment(data.get("debt_since"))
    terms = _int(data.get("payment_terms"), 30)
    return {
        "id": _int(data.get("id")),
        "factory_id": data.get("factory_id") or factory_id,
        "business_domain": data.get("business_domain"),
        "name": data.get("name"),
        "customer_code": data.get("customer_code"),
        "type": data.get("type"),
        "industry_type": data.get("industry_type"),
        "status": data.get("status"),
        "rating": _int(data.get("rating"), 3),
        "credit_limit": _decimal(data.get("credit_limit")),
        "current_balance": balance,
        "payment_terms": terms,
        "debt_since": debt_since,
        "debt_due_at": customer_rules.debt_due_at(balance, debt_since, terms),
        "lead_status": _int(data.get("lead_status")),
        "viewing_count": _int(data.get("viewing_count"), 0),
        "total_commission": _decimal(data.get("total_commission")),
        "created_at": _moment(data.get("created_at")),
        "deleted_at": _moment(data.get("deleted_at")),
        "version": int(version),
        "applied_at": utcnow(),
    }


def viewing_row(data: dict, version: int, factory_id: str | None = None) -> dict:
    """A viewing record (event ``data`` or snapshot row) as a row of the read model."""
    return {
        "id": str(data.get("id")),
        "factory_id": data.get("factory_id") or factory_id,
        "customer_id": _int(data.get("customer_id")),
        "user_id": data.get("user_id"),
        "viewing_time": _moment(data.get("viewing_time")),
        "viewing_status": _int(data.get("viewing_status")),
        "viewing_feedback": _int(data.get("viewing_feedback")),
        "commission": _decimal(data.get("commission")),
        "property_name": (data.get("property_name") or None) and str(data["property_name"])[:200],
        "business_type": data.get("business_type"),
        "version": int(version),
        "applied_at": utcnow(),
    }


def _check(row: dict, kind: str) -> dict:
    if row["id"] in (None, "None") or not row["factory_id"]:
        raise InvalidEvent(f"{kind} data lacks id or factory_id")
    return row


def order_from_data(data: dict) -> order_rules.Order:
    """An order event's ``data`` (``contracts.OrderEventData``) as a domain ``Order``
    (InvalidEvent if malformed or against the order rules)."""
    try:
        return order_rules.build_order(
            order_id=str(data["order_id"]), customer_id=_int(data["customer_id"]),
            order_date=_date(data["order_date"]),
            total_amount=None if data.get("total_amount") is None else _decimal(data["total_amount"]),
            status=str(data.get("status") or "COMPLETED").upper(),
            payment_status=str(data.get("payment_status") or ("PAID" if data.get("paid_date") else "UNPAID")).upper(),
            due_date=_date(data.get("due_date")), paid_date=_date(data.get("paid_date")),
            items=[{"product_name": i["product_name"], "quantity": _decimal(i["quantity"]),
                    "unit_price": _decimal(i["unit_price"]),
                    "subtotal": None if i.get("subtotal") is None else _decimal(i["subtotal"])}
                   for i in data.get("items") or []])
    except (KeyError, TypeError, ArithmeticError) as exc:
        raise InvalidEvent(f"order data lacks or garbles {exc}") from exc
    except order_rules.OrderRejected as exc:
        raise InvalidEvent(f"order rejected: {exc}") from exc


def _occurred(event: dict) -> dt.datetime | None:
    return _moment(event.get("occurred_at"))


# --- the consumer's handlers -------------------------------------------------------------------

# Each applier takes a list of events of the types it is registered for: the consumer hands
# it one event (``handlers``, event by event) or all those of a batch (``apply_many``, the
# set-based path: one statement per table for the whole batch).
APPLIERS: list[tuple[frozenset[str], Callable[[AnalyticsUnitOfWork, list[dict]], None]]] = []


def handles(*event_types: str):
    def register(apply: Callable[[AnalyticsUnitOfWork, list[dict]], None]):
        handlers.on(*event_types)(lambda uow, event: apply(uow, [event]))
        APPLIERS.append((frozenset(event_types), apply))
        return apply
    return register


def customers_touched(uow: AnalyticsUnitOfWork, events: list[dict]) -> dict[str, set[int]]:
    """factory -> ids of the customers whose rows or order totals these events change (an
    order event: its customer and, when it moves the order, the previous one). Unreadable
    values are skipped here: the appliers refuse them with the right error."""
    touched: dict[str, set[int]] = {}
    for event in events:
        data = event.get("data") or {}
        if event["event_type"] in CUSTOMER_EVENTS:
            tenant, ids = event.get("factory_id") or data.get("factory_id"), [data.get("id", event["aggregate_id"])]
        elif event["event_type"] in ORDER_EVENTS and event.get("producer") != PRODUCER:
            tenant = data.get("factory_id") or event.get("factory_id")
            stored = uow.orders.get(str(tenant), str(data.get("order_id"))) if tenant and data.get("order_id") else None
            ids = [data.get("customer_id")] + ([stored.order.customer_id] if stored else [])
        else:
            continue
        for value in ids:
            try:
                customer_id = _int(value)
            except InvalidEvent:
                continue
            if tenant and customer_id is not None and 0 < customer_id < 2**63:
                touched.setdefault(str(tenant), set()).add(customer_id)
    return touched


def apply_many(uow: AnalyticsUnitOfWork, events: list[dict]) -> None:
    """A batch of events, each kind by its applier (events of different aggregates commute;
    the consumer hands over only the newest event of each aggregate).

    First the per-customer order locks of every customer the batch touches, in one order
    (tenant, then id), the order an order write takes them in before it locks customer rows:
    a batch that locked a customer's row (its customer event) and then waited for that
    customer's order lock (an ERP's order event) would deadlock with an order write that holds
    the order lock and waits for the row."""
    for tenant, ids in sorted(customers_touched(uow, events).items()):
        uow.orders.lock_customers(tenant, ids)
    for event_types, apply in APPLIERS:
        chunk = [event for event in events if event["event_type"] in event_types]
        if chunk:
            apply(uow, chunk)


def _note(uow: AnalyticsUnitOfWork, source: str, events: list[dict]) -> None:
    last = max(events, key=lambda e: str(e.get("occurred_at") or ""))
    uow.freshness.note(source, event_id=str(last["event_id"]), event_type=str(last["event_type"]),
                       occurred_at=_occurred(last), count=len(events))


def _with_id(event: dict) -> dict:
    return {**event["data"], "id": event["data"].get("id", event["aggregate_id"])}


@handles(*sorted(CUSTOMER_EVENTS))
def apply_customers(uow: AnalyticsUnitOfWork, events: list[dict]) -> None:
    uow.read_model.apply_customers([
        _check(customer_row(_with_id(e), int(e["aggregate_version"]), e.get("factory_id")), "customer")
        for e in events])
    _note(uow, uow.freshness.CUSTOMERS, events)


@handles("viewing.recorded", "viewing.updated")
def apply_viewing_records(uow: AnalyticsUnitOfWork, events: list[dict]) -> None:
    uow.read_model.apply_viewing_records([
        _check(viewing_row(_with_id(e), int(e["aggregate_version"]), e.get("factory_id")), "viewing")
        for e in events])
    _note(uow, uow.freshness.VIEWINGS, events)


@handles(*sorted(ORDER_EVENTS))
def apply_orders(uow: AnalyticsUnitOfWork, events: list[dict]) -> None:
    """Orders another producer (an ERP) records, applied by version. Our own order events
    are skipped: their facts were written when the request was accepted."""
    theirs = [event for event in events if event.get("producer") != PRODUCER]
    for event in theirs:
        data = event["data"]
        tenant = data.get("factory_id") or event.get("factory_id")
        if not tenant:
            raise InvalidEvent("order event lacks factory_id")
        apply_order_event(uow, str(tenant), order_from_data(data), int(event["aggregate_version"]),
                          source=str(event.get("producer") or "event"))
    if theirs:
        _note(uow, uow.freshness.ORDERS, theirs)
