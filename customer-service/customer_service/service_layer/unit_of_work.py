"""customer-service's unit of work: the shared one (``crm_common.db.UnitOfWork``: commit or
roll back, outbox rows in the same transaction) plus this service's repositories, the
transaction's clock, and the read cache.

- every customer, company and group written gets the database's ``now()`` (the
  transaction's start) as ``updated_at``: keyset pages of incremental sync
  (``crm_common.paging``) rely on it; ``now()`` is the time of what handlers stamp
  themselves.
- ``flush()`` turns a unique-index refusal into ``UniqueViolation`` naming the identity
  that was taken; handlers word it as the matching refusal.
- With the read cache configured, every customer the transaction touched is marked stale
  once the commit succeeded: each customer event written, each Customer flushed, and what a
  handler names with ``touch_customers``.

The same class serves requests (``CustomerUnitOfWork(session_factory)``) and consumers
(``CustomerUnitOfWork.joining(session)``: inside the consumer's transaction)."""
from __future__ import annotations

import datetime as dt
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crm_common.db import UnitOfWork, unique_violation, utcnow

from ..adapters import orm
from ..adapters.cache import invalidate_on_commit, touch
from ..adapters.external_sync import ExternalSyncRepository, ExternalSyncRunRepository
from ..adapters.groups import CustomerGroupRepository
from ..adapters.history import HistoryRepository
from ..adapters.idempotency import IdempotencyRepository
from ..adapters.orders import OrderRepository
from ..adapters.repository import CompanyRepository, CustomerRepository
from ..adapters.viewings import ViewingRepository
from ..domain.model import Company, Customer, CustomerGroup

CLOCK = "transaction_clock"
DB_NOW = "database_now"  # PostgreSQL's now() of the transaction, once read
STAMPED = (Customer, Company, CustomerGroup)


class UniqueViolation(Exception):
    """The database refused a row whose identity is taken: ``what`` is ``name``, ``code``,
    ``user_id``, ``company`` or ``group_name`` (``None``: another unique rule)."""

    def __init__(self, what: str | None):
        super().__init__(what)
        self.what = what


def _identity(constraint: str) -> str | None:
    if "user_id" in constraint:
        return "user_id"
    if "customer_groups" in constraint:
        return "group_name"
    if "compan" in constraint or "source" in constraint:
        return "company"
    if "code" in constraint:
        return "code"
    if "name" in constraint:
        return "name"
    return None


def transaction_now(session) -> dt.datetime:
    """The time of what handlers stamp themselves (status changes, debts, the audit trail):
    taken once per transaction."""
    cached = session.info.get(CLOCK)
    if cached is None:
        cached = session.info[CLOCK] = utcnow()
    return cached


STAMPING = "stamping"  # session.info: "postgresql" or another dialect's name


def stamp_on_flush(session) -> None:
    """Every customer, company and group this session writes gets ``updated_at`` (and
    ``created_at`` when new) from the database: PostgreSQL's ``now()``, the transaction's
    start, read back by the same statement; on SQLite (one writer at a time) the
    transaction's time above. The listeners are the Session class's, registered once:
    registering them on each new session cost a quarter of a unit of work's CPU."""
    if not session.info.get(STAMPING):
        session.info[STAMPING] = session.get_bind().dialect.name


@sa_event.listens_for(Session, "before_flush")
def _stamp(sess, _context, _instances):
    dialect = sess.info.get(STAMPING)
    if dialect is None:
        return  # not a session of a customer unit of work
    on_postgresql = dialect == "postgresql"
    moment = sa.func.now() if on_postgresql else transaction_now(sess)
    new = [obj for obj in sess.new if isinstance(obj, STAMPED)]
    if on_postgresql and len(new) > 1:
        # The same now(), read once: rows whose values are SQL expressions are inserted
        # one statement each, plain values in one multi-row INSERT (bulk, imports).
        moment = sess.info.get(DB_NOW)
        if moment is None:
            moment = sess.info[DB_NOW] = sess.connection().execute(sa.select(sa.func.now())).scalar_one()
    for obj in new:
        obj.created_at = obj.updated_at = moment
    for obj in sess.dirty:
        if isinstance(obj, STAMPED) and sess.is_modified(obj, include_collections=False):
            obj.updated_at = moment


@sa_event.listens_for(Session, "after_transaction_end")
def _forget(sess, transaction):
    if transaction.parent is None and sess.info.get(STAMPING):
        # the outermost transaction ended: a new clock next time
        sess.info.pop(CLOCK, None)
        sess.info.pop(DB_NOW, None)


class CustomerUnitOfWork(UnitOfWork):
    outbox = orm.outbox

    def __init__(self, session_factory, outbox=None, cache=None):
        super().__init__(session_factory, outbox)
        self.cache = cache

    @classmethod
    def joining(cls, session, **kwargs) -> "CustomerUnitOfWork":  # typed for callers
        return super().joining(session, **kwargs)

    def bind(self, session) -> None:
        self.customers = CustomerRepository(session)
        self.companies = CompanyRepository(session)
        self.groups = CustomerGroupRepository(session)
        self.history = HistoryRepository(session)
        self.orders = OrderRepository(session)
        self.viewings = ViewingRepository(session)
        self.external_sync = ExternalSyncRepository(session)
        self.sync_runs = ExternalSyncRunRepository(session)
        self.idempotency = IdempotencyRepository(session)
        stamp_on_flush(session)
        invalidate_on_commit(session, self.cache)

    def now(self) -> dt.datetime:
        return transaction_now(self.session)

    def flush(self) -> None:
        try:
            self.session.flush()
        except IntegrityError as exc:
            constraint = unique_violation(exc)
            if constraint is None:
                raise
            raise UniqueViolation(_identity(constraint)) from exc

    def add_event(self, event: dict) -> None:
        super().add_event(event)
        if self.cache is not None and event.get("aggregate_type") == "customer" and event.get("factory_id"):
            touch(self.session, event["factory_id"], [event["aggregate_id"]])

    def add_events(self, events: list[dict]) -> None:
        super().add_events(events)
        if self.cache is not None:
            for event in events:
                if event.get("aggregate_type") == "customer" and event.get("factory_id"):
                    touch(self.session, event["factory_id"], [event["aggregate_id"]])

    def touch_customers(self, factory_id: str, customer_ids: Iterable[int]) -> None:
        """Name customers whose cached view a write changed without an event (groups, orders)."""
        if self.cache is not None:
            touch(self.session, factory_id, customer_ids)
