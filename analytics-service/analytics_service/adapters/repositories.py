"""Where analytics' facts are written: the read model (customers, viewing records), the
order facts and the freshness bookkeeping. The unit of work hands these to the handlers;
nothing else writes these tables (the rebuild replaces the read model through
``ReadModel.replace``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import asdict, astuple
from dataclasses import fields as dataclass_fields
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common import credit
from crm_common.db import upsert, utcnow

from ..domain import customers as customer_rules
from ..domain import orders as order_rules
from . import orm


def _newer(table, excluded):
    """An existing row is replaced only by a strictly newer version of it."""
    return table.c.version < excluded.version


def _chunks(items: list, size: int = 2000):
    for start in range(0, len(items), size):
        yield items[start:start + size]


class ReadModel:
    """Customers and viewing records as their owners last described them; each customer
    with its ``debt_due_date`` (seed 001 §7.2 over the order facts, days in ``tz``)."""

    def __init__(self, session: Session, tz: dt.tzinfo = dt.timezone.utc):
        self.session = session
        self.tz = tz

    def _last_order_dates(self, pairs) -> dict[tuple[str, int], dt.date]:
        """(tenant, customer id) -> last counted order date, for those that have orders
        (``customer_order_totals``: cancelled orders count in no order date)."""
        t = orm.customer_order_totals.c
        pairs = sorted(set(pairs))
        out: dict[tuple[str, int], dt.date] = {}
        for factory_id in sorted({f for f, _cid in pairs}):
            ids = [cid for f, cid in pairs if f == factory_id]
            for chunk in _chunks(ids):
                for r in self.session.execute(sa.select(t.customer_id, t.last_order_date).where(
                        t.factory_id == factory_id, t.customer_id.in_(chunk))):
                    out[(factory_id, int(r.customer_id))] = r.last_order_date
        return out

    def _due_date(self, row, last_order_date: dt.date | None) -> dt.date | None:
        return credit.debt_due_date(row["current_balance"], row["debt_since"], row["payment_terms"],
                                    last_order_date=last_order_date, tz=self.tz)

    def refresh_due_dates(self, factory_id: str | None = None, customer_ids=None) -> int:
        """Recompute ``debt_due_date`` of these customers (all of them: ``None``) after their
        orders changed; rows are locked first, the order totals read after, so a customer
        event applied meanwhile and this order write never both miss the other. Returns how
        many rows changed."""
        c = orm.customers.c
        stmt = sa.select(c.id, c.factory_id, c.current_balance, c.debt_since, c.payment_terms, c.debt_due_date)
        if factory_id is not None:
            stmt = stmt.where(c.factory_id == factory_id)
        if customer_ids is not None:
            customer_ids = sorted(set(customer_ids))
            if not customer_ids:
                return 0
            stmt = stmt.where(c.id.in_(customer_ids))
        rows = [r._mapping for r in self.session.execute(stmt.order_by(c.id).with_for_update())]
        last = self._last_order_dates((r["factory_id"], r["id"]) for r in rows)
        changes = []
        for r in rows:
            due = self._due_date(r, last.get((r["factory_id"], r["id"])))
            if due != _as_date(r["debt_due_date"]):
                changes.append({"b_id": r["id"], "due": due})
        for chunk in _chunks(changes):
            self.session.execute(sa.update(orm.customers).where(c.id == sa.bindparam("b_id"))
                                 .values(debt_due_date=sa.bindparam("due")), chunk)
        return len(changes)

    def apply_customers(self, rows: list[dict]) -> None:
        """Write customer rows that are newer than the stored ones, and add what they change
        to their tenants' summaries, in the caller's transaction: the stored rows are read
        under a row lock, so the summary moves by exactly what each write changed."""
        newest: dict[int, dict] = {}
        for row in rows:
            if row["id"] not in newest or newest[row["id"]]["version"] < row["version"]:
                newest[row["id"]] = row
        if not newest:
            return
        c = orm.customers.c
        old = {r.id: r._mapping for r in self.session.execute(
            sa.select(c.id, c.factory_id, c.business_domain, c.type, c.industry_type, c.rating, c.status,
                      c.credit_limit, c.current_balance, c.deleted_at, c.version)
            .where(c.id.in_(sorted(newest))).order_by(c.id).with_for_update())}
        written = [row for cid, row in sorted(newest.items()) if cid not in old or old[cid]["version"] < row["version"]]
        if not written:
            return
        # Read after the rows are locked: an order write holds them while it changes totals.
        last = self._last_order_dates((row["factory_id"], row["id"]) for row in written)
        written = [{**row, "debt_due_date": self._due_date(row, last.get((row["factory_id"], row["id"])))}
                   for row in written]
        upsert(self.session, orm.customers, written, index_elements=["id"],
               update=[k for k in written[0] if k != "id"], where=_newer)
        deltas: dict[customer_rules.SummaryKey, customer_rules.CustomerFigures] = {}
        for row in written:
            for state, sign in ((old.get(row["id"]), -1), (row, 1)):
                part = customer_rules.contribution(state) if state is not None else None
                if part is not None:
                    key, figures = part
                    deltas[key] = deltas.get(key, customer_rules.CustomerFigures()) + (figures if sign > 0 else -figures)
        self._add_to_summaries(deltas)

    def _add_to_summaries(self, deltas: dict) -> None:
        rows = [{**asdict(key), **asdict(figures)} for key, figures in sorted(
            deltas.items(), key=lambda kv: astuple(kv[0])) if not figures.empty]
        if not rows:
            return
        sums = [f.name for f in dataclass_fields(customer_rules.CustomerFigures)]
        upsert(self.session, orm.customer_summaries, rows,
               index_elements=[f.name for f in dataclass_fields(customer_rules.SummaryKey)],
               set_=lambda table, excluded: {name: table.c[name] + excluded[name] for name in sums})

    def recompute_summaries(self, factory_ids: list[str] | None = None) -> None:
        """The summaries from the customers themselves (the SQL form of the same sums): after
        a rebuild replaced the read model, or to check the kept ones."""
        s, c = orm.customer_summaries, orm.customers.c
        keys = customer_rules.summary_key_sql(c)
        select = sa.select(*keys, *customer_rules.customer_figures_sql(c)).where(c.deleted_at.is_(None))
        delete = sa.delete(s)
        if factory_ids is not None:
            select = select.where(c.factory_id.in_(factory_ids))
            delete = delete.where(s.c.factory_id.in_(factory_ids))
        self.session.execute(delete)
        self.session.execute(sa.insert(s).from_select([col.name for col in s.columns],
                                                      select.group_by(*keys)))

    def apply_viewing_records(self, rows: list[dict]) -> None:
        newest: dict[str, dict] = {}
        for row in rows:
            if row["id"] not in newest or newest[row["id"]]["version"] < row["version"]:
                newest[row["id"]] = row
        if newest:
            written = [newest[key] for key in sorted(newest)]
            upsert(self.session, orm.viewing_records, written, index_elements=["id"],
                   update=[k for k in written[0] if k != "id"], where=_newer)

    def customer_scopes(self, customer_ids) -> dict[int, tuple[str, str | None]]:
        """customer id -> (tenant, business domain) of the customers the read model knows,
        deleted ones included (their orders stay readable)."""
        c = orm.customers.c
        ids = sorted(set(customer_ids))
        if not ids:
            return {}
        return {r.id: (r.factory_id, r.business_domain) for r in self.session.execute(
            sa.select(c.id, c.factory_id, c.business_domain).where(c.id.in_(ids)))}

    def lock_versions(self) -> None:
        """Hold ``applied_versions`` exclusively until commit (the consumer waits)."""
        if self.session.get_bind().dialect.name == "postgresql":
            self.session.execute(sa.text("LOCK TABLE applied_versions IN EXCLUSIVE MODE"))

    def replace(self, table: sa.Table, aggregate_type: str, rows: list[dict], *, consumer: str,
                started: dt.datetime) -> dict:
        """Replace ``table`` by a snapshot of its owner, within the caller's transaction.

        Each snapshot row replaces the read-model row and becomes the aggregate's applied
        version, unless the consumer applied a strictly newer version (kept); rows absent
        from the snapshot go, unless the consumer applied them after ``started``."""
        av = orm.applied_versions.c
        applied = {r.aggregate_id: (r.version, r.updated_at) for r in self.session.execute(
            sa.select(av.aggregate_id, av.version, av.updated_at)
            .where(av.consumer == consumer, av.aggregate_type == aggregate_type))}
        snapshot_ids = {str(row["id"]) for row in rows}
        write = [row for row in rows if applied.get(str(row["id"]), (-1, None))[0] <= row["version"]]
        existing = {str(i) for i in self.session.scalars(sa.select(table.c.id))}
        gone = [i for i in existing - snapshot_ids if not (i in applied and applied[i][1] >= started)]
        id_type = table.c.id.type.python_type
        for chunk in _chunks(gone):
            self.session.execute(sa.delete(table).where(table.c.id.in_([id_type(i) for i in chunk])))
        for chunk in _chunks(write):
            self.session.execute(sa.delete(table).where(table.c.id.in_([row["id"] for row in chunk])))
            self.session.execute(sa.insert(table), chunk)
        stale = [str(row["id"]) for row in write if str(row["id"]) in applied]
        for chunk in _chunks(stale):
            self.session.execute(sa.delete(orm.applied_versions).where(
                av.consumer == consumer, av.aggregate_type == aggregate_type, av.aggregate_id.in_(chunk)))
        now = utcnow()
        versions = [{"consumer": consumer, "aggregate_type": aggregate_type, "aggregate_id": str(row["id"]),
                     "version": row["version"], "occurred_at": None, "updated_at": now} for row in write]
        for chunk in _chunks(versions):
            self.session.execute(sa.insert(orm.applied_versions), chunk)
        return {"snapshot": len(rows), "written": len(write), "kept_newer": len(rows) - len(write),
                "removed": len(gone)}


class Orders:
    """Order facts per tenant, with their lines, and the per-customer totals kept in step."""

    def __init__(self, session: Session):
        self.session = session

    def lock_customers(self, factory_id: str, customer_ids) -> None:
        """Serialise order writes per customer (PostgreSQL advisory locks, in id order, held
        to commit) so that each recount of a customer's totals sees the others' orders."""
        if self.session.get_bind().dialect.name != "postgresql" or not customer_ids:
            return
        self.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:f || ':' || c::text, 0)) "
                                     "FROM unnest(CAST(:ids AS bigint[])) AS c ORDER BY c"),
                             {"f": factory_id, "ids": sorted(set(customer_ids))})

    def get_many(self, factory_id: str, order_ids, *, lock: bool = False) -> dict[str, order_rules.RecordedOrder]:
        """The stored orders among ``order_ids`` with their lines (``lock``: FOR UPDATE)."""
        o = orm.orders.c
        order_ids = list(order_ids)
        if not order_ids:
            return {}
        stmt = sa.select(orm.orders).where(o.factory_id == factory_id, o.order_id.in_(order_ids))
        rows = self.session.execute(stmt.with_for_update() if lock else stmt).all()
        lines: dict[int, list] = {}
        if rows:
            i = orm.order_items.c
            for line in self.session.execute(sa.select(i.order_pk, i.product_name, i.quantity, i.unit_price, i.subtotal)
                                             .where(i.order_pk.in_([r.id for r in rows]))
                                             .order_by(i.order_pk, i.line_no)):
                lines.setdefault(line.order_pk, []).append(order_rules.OrderLine(
                    line.product_name, Decimal(line.quantity), Decimal(line.unit_price), Decimal(line.subtotal)))
        return {r.order_id: _recorded(r, lines.get(r.id, [])) for r in rows}

    def get(self, factory_id: str, order_id: str, *, lock: bool = False) -> order_rules.RecordedOrder | None:
        return self.get_many(factory_id, [order_id], lock=lock).get(order_id)

    def save(self, factory_id: str, orders: list[tuple[order_rules.Order, int]], *, source: str,
             now: dt.datetime) -> dict[str, int]:
        """Insert or replace these (order, version) pairs and their lines; order id -> row id."""
        if not orders:
            return {}
        rows = [{**_order_row(factory_id, order, source=source, now=now), "version": version}
                for order, version in orders]
        upsert(self.session, orm.orders, rows, index_elements=["factory_id", "order_id"],
               update=[k for k in rows[0] if k not in ("factory_id", "order_id", "created_at")])
        o = orm.orders.c
        pks = dict(self.session.execute(sa.select(o.order_id, o.id).where(
            o.factory_id == factory_id, o.order_id.in_([order.order_id for order, _v in orders]))).all())
        self.session.execute(sa.delete(orm.order_items).where(orm.order_items.c.order_pk.in_(list(pks.values()))))
        lines = [{"order_pk": pks[order.order_id], "factory_id": factory_id, "customer_id": order.customer_id,
                  "line_no": n, "product_name": line.product_name, "quantity": line.quantity,
                  "unit_price": line.unit_price, "subtotal": line.subtotal, "counted": order.counts}
                 for order, _v in orders for n, line in enumerate(order.items, start=1)]
        if lines:
            self.session.execute(sa.insert(orm.order_items), lines)
        return pks

    def refresh_totals(self, factory_id: str, customer_ids) -> None:
        """Recount ``customer_order_totals`` of these customers from their counted orders."""
        customer_ids = sorted(set(customer_ids))
        if not customer_ids:
            return
        o, t = orm.orders.c, orm.customer_order_totals
        rows = [dict(r._mapping) for r in self.session.execute(
            sa.select(o.factory_id, o.customer_id, sa.func.count().label("total_orders"),
                      sa.func.sum(o.total_amount).label("total_revenue"),
                      sa.func.min(o.order_date).label("first_order_date"),
                      sa.func.max(o.order_date).label("last_order_date"))
            .where(o.factory_id == factory_id, o.counted.is_(True), o.customer_id.in_(customer_ids))
            .group_by(o.factory_id, o.customer_id))]
        self.session.execute(sa.delete(t).where(t.c.factory_id == factory_id, t.c.customer_id.in_(customer_ids)))
        if rows:
            self.session.execute(sa.insert(t), rows)


def _as_date(value) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])  # SQLite may hand text back


def _order_row(factory_id: str, order: order_rules.Order, *, source: str, now: dt.datetime) -> dict:
    override = order.override
    return {
        "factory_id": factory_id, "order_id": order.order_id, "customer_id": order.customer_id,
        "order_date": order.order_date, "total_amount": order.total_amount, "status": order.status,
        "payment_status": order.payment_status, "due_date": order.due_date, "paid_date": order.paid_date,
        "payment_days": order.payment_days, "late_days": order.late_days, "counted": order.counts,
        "source": source, "created_at": now, "updated_at": now,
        "override_rules": ",".join(override.rules) if override else None,
        "override_reason": override.reason if override else None,
        "override_by": override.operator_id if override else None,
        "override_by_name": override.operator_name if override else None,
        "override_at": override.at if override else None,
    }


def _recorded(row, lines: list[order_rules.OrderLine]) -> order_rules.RecordedOrder:
    override = None
    if row.override_rules:
        override = order_rules.Override(rules=tuple(row.override_rules.split(",")), reason=row.override_reason or "",
                                        operator_id=row.override_by or "", operator_name=row.override_by_name or "",
                                        at=row.override_at)
    order = order_rules.Order(
        order_id=row.order_id, customer_id=int(row.customer_id), order_date=row.order_date,
        total_amount=Decimal(row.total_amount), status=row.status, payment_status=row.payment_status,
        due_date=row.due_date, paid_date=row.paid_date, items=tuple(lines), override=override)
    return order_rules.RecordedOrder(order=order, pk=int(row.id), version=int(row.version), source=row.source,
                                     created_at=row.created_at, updated_at=row.updated_at)


class Freshness:
    """The newest fact applied per source (one small row per source)."""

    CUSTOMERS, VIEWINGS, ORDERS = "customer-service", "viewing-service", "orders"
    SOURCES = (CUSTOMERS, VIEWINGS, ORDERS)

    def __init__(self, session: Session):
        self.session = session

    def note(self, source: str, *, event_id: str | None, event_type: str | None,
             occurred_at: dt.datetime | None, count: int = 1) -> None:
        es = orm.event_sources
        now = utcnow()
        upsert(self.session, es, {"producer": source, "last_event_id": event_id, "last_event_type": event_type,
                                  "last_occurred_at": occurred_at, "last_applied_at": now, "events_applied": count},
               index_elements=["producer"],
               update=["last_event_id", "last_event_type", "last_occurred_at", "last_applied_at"],
               set_={"events_applied": es.c.events_applied + count})
