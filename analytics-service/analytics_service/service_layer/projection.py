"""The read model's projection: how each event (or snapshot row) changes analytics' tables.

``handle_event(session, event)`` is the consumer's handler: the consumer base has already
deduplicated the event by ``event_id`` and dropped it if its ``aggregate_version`` is not
newer, inside the same transaction. Upserts also refuse to replace a row by an older
version, so a snapshot rebuild and in-flight events can never move a row backwards."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common import logs
from crm_common.db import utcnow
from crm_common.events import InvalidEvent

from ..adapters import orm
from ..adapters.sql import insert_for, upsert
from ..domain import customers as customer_rules
from ..domain import orders as order_rules

log = logs.get_logger("analytics.projection")

PRODUCER = "analytics-service"
# Freshness is reported per stream of facts.
SOURCES = {"customer": "customer-service", "viewing": "viewing-service", "order": "orders"}


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


def apply_customers(session: Session, rows: list[dict]) -> None:
    upsert(session, orm.customers, rows, ["id"], newer_only="version")


def apply_viewing_records(session: Session, rows: list[dict]) -> None:
    upsert(session, orm.viewing_records, rows, ["id"], newer_only="version")


# --- orders ----------------------------------------------------------------------------------

def order_from_data(data: dict):
    """An ``order.recorded`` data object as a domain ``Order`` (InvalidEvent if malformed)."""
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
    except (KeyError, TypeError) as exc:
        raise InvalidEvent(f"order data lacks {exc}") from exc
    except order_rules.OrderRejected as exc:
        raise InvalidEvent(f"order rejected: {exc}") from exc


def order_row(factory_id: str, order: order_rules.Order, *, source: str, now: dt.datetime) -> dict:
    return {
        "factory_id": factory_id, "order_id": order.order_id, "customer_id": order.customer_id,
        "order_date": order.order_date, "total_amount": order.total_amount, "status": order.status,
        "payment_status": order.payment_status, "due_date": order.due_date, "paid_date": order.paid_date,
        "payment_days": order.payment_days, "late_days": order.late_days, "counted": order.counts,
        "source": source, "created_at": now, "updated_at": now,
    }


def write_orders(session: Session, factory_id: str, orders: list[order_rules.Order], *, source: str,
                 versions: dict[str, int] | None = None, now: dt.datetime | None = None) -> dict[str, tuple[int, int, bool]]:
    """Upsert orders of one tenant by order id and replace their lines.

    ``versions`` (order id -> version) makes it conditional: an order is written only when
    its version is newer than the stored one (events). Without it every order is written and
    its version goes up by one (the API). Returns order id -> (row id, version, created)."""
    now = now or utcnow()
    o = orm.orders.c
    ids = [order.order_id for order in orders]
    previous = session.execute(sa.select(o.customer_id).where(o.factory_id == factory_id, o.order_id.in_(ids))).scalars()
    affected = sorted({order.customer_id for order in orders} | set(previous))
    lock_customers(session, factory_id, affected)
    existing = {r.order_id: (r.id, r.version) for r in session.execute(
        sa.select(o.order_id, o.id, o.version).where(o.factory_id == factory_id, o.order_id.in_(ids))
        .with_for_update())}
    todo = [order for order in orders
            if versions is None or order.order_id not in existing
            or existing[order.order_id][1] < versions[order.order_id]]
    if not todo:
        return {}
    rows = []
    for order in todo:
        row = order_row(factory_id, order, source=source, now=now)
        row["version"] = versions[order.order_id] if versions else existing.get(order.order_id, (0, 0))[1] + 1
        rows.append(row)
    stmt = insert_for(session)(orm.orders).values(rows)
    keep = {"id", "factory_id", "order_id", "created_at"}
    session.execute(stmt.on_conflict_do_update(
        index_elements=["factory_id", "order_id"],
        set_={c.name: stmt.excluded[c.name] for c in orm.orders.columns if c.name not in keep}))
    written = {r.order_id: (r.id, r.version) for r in session.execute(
        sa.select(o.order_id, o.id, o.version).where(o.factory_id == factory_id,
                                                     o.order_id.in_([x.order_id for x in todo])))}
    pks = [written[order.order_id][0] for order in todo]
    session.execute(sa.delete(orm.order_items).where(orm.order_items.c.order_pk.in_(pks)))
    lines = [{"order_pk": written[order.order_id][0], "factory_id": factory_id, "customer_id": order.customer_id,
              "line_no": n, "product_name": line.product_name, "quantity": line.quantity,
              "unit_price": line.unit_price, "subtotal": line.subtotal, "counted": order.counts}
             for order in todo for n, line in enumerate(order.items, start=1)]
    if lines:
        session.execute(sa.insert(orm.order_items), lines)
    refresh_order_totals(session, factory_id, affected)
    return {order.order_id: (written[order.order_id][0], written[order.order_id][1],
                             order.order_id not in existing) for order in todo}


def lock_customers(session: Session, factory_id: str, customer_ids: list[int]) -> None:
    """Serialise order writes per customer (PostgreSQL advisory locks, in id order, held to
    commit) so that each recount of a customer's totals sees the others' orders."""
    if session.get_bind().dialect.name != "postgresql" or not customer_ids:
        return
    session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:f || ':' || c::text, 0)) "
                            "FROM unnest(CAST(:ids AS bigint[])) AS c ORDER BY c"),
                    {"f": factory_id, "ids": list(customer_ids)})


def refresh_order_totals(session: Session, factory_id: str, customer_ids: list[int]) -> None:
    """Recount ``customer_order_totals`` of these customers from their counted orders."""
    if not customer_ids:
        return
    o, t = orm.orders.c, orm.customer_order_totals
    rows = [dict(r._mapping) for r in session.execute(
        sa.select(o.factory_id, o.customer_id, sa.func.count().label("total_orders"),
                  sa.func.sum(o.total_amount).label("total_revenue"),
                  sa.func.min(o.order_date).label("first_order_date"),
                  sa.func.max(o.order_date).label("last_order_date"))
        .where(o.factory_id == factory_id, o.counted.is_(True), o.customer_id.in_(customer_ids))
        .group_by(o.factory_id, o.customer_id))]
    session.execute(sa.delete(t).where(t.c.factory_id == factory_id, t.c.customer_id.in_(customer_ids)))
    if rows:
        session.execute(sa.insert(t), rows)


# --- freshness -------------------------------------------------------------------------------

def note_source(session: Session, source: str, *, event_id: str | None, event_type: str | None,
                occurred_at: dt.datetime | None, count: int = 1) -> None:
    """Remember the newest fact applied from ``source`` (one small row per source)."""
    es = orm.event_sources
    now = utcnow()
    updated = session.execute(sa.update(es).where(es.c.producer == source).values(
        last_event_id=event_id, last_event_type=event_type, last_occurred_at=occurred_at,
        last_applied_at=now, events_applied=es.c.events_applied + count)).rowcount
    if not updated:
        upsert(session, es, {"producer": source, "last_event_id": event_id, "last_event_type": event_type,
                             "last_occurred_at": occurred_at, "last_applied_at": now,
                             "events_applied": count}, ["producer"])


# --- the consumer's handler ------------------------------------------------------------------

def handle_event(session: Session, event: dict) -> None:
    """Apply one ``customer.*``, ``viewing.*`` or ``order.*`` event to the read model."""
    kind = str(event["event_type"]).split(".", 1)[0]
    data, version, factory = event["data"], int(event["aggregate_version"]), event.get("factory_id")
    if kind == "customer":
        data = {**data, "id": data.get("id", event["aggregate_id"])}
        apply_customers(session, [_check(customer_row(data, version, factory), "customer")])
    elif kind == "viewing":
        data = {**data, "id": data.get("id", event["aggregate_id"])}
        apply_viewing_records(session, [_check(viewing_row(data, version, factory), "viewing")])
    elif kind == "order":
        # Our own order.recorded events were written with the facts at ingestion.
        if event.get("producer") != PRODUCER:
            order = order_from_data(data)
            tenant = data.get("factory_id") or factory
            if not tenant:
                raise InvalidEvent("order event lacks factory_id")
            write_orders(session, tenant, [order], source=str(event.get("producer") or "event"),
                         versions={order.order_id: version})
    else:
        log.info("event_ignored", event_type=event["event_type"])
        return
    note_source(session, SOURCES[kind], event_id=str(event["event_id"]), event_type=str(event["event_type"]),
                occurred_at=_moment(event.get("occurred_at")))


def make_handler(_settings=None):
    """``handler_factory`` of the consume command."""
    return handle_event
