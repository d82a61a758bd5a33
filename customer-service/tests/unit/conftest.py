"""Fixtures of the handlers' unit tests: an in-memory unit of work (cosmicpython's FakeUnitOfWork):
the repositories' contract with lists and dicts, ids and versions assigned on flush, and
the events, audit rows and commits a handler leaves, for the tests to read. No I/O."""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import itertools

import pytest

from crm_common.auth import DomainScope, Principal
from crm_common.context import RequestContext
from customer_service.domain.model import Customer, OrderSummary, new_customer
from customer_service.domain.orders import OrderFact
from customer_service.service_layer.unit_of_work import UniqueViolation

NOW = dt.datetime(2026, 3, 31, 8, 0, tzinfo=dt.timezone.utc)
_STATE = ("name", "customer_code", "status", "credit_limit", "current_balance", "rating", "rating_notes", "notes",
          "deleted_at", "business_domain", "primary_contact_name", "payment_terms", "debt_since", "type")


def context(roles=("admin",), factory="F1", domains=None, sub="u-1", name="张三") -> RequestContext:
    scope = DomainScope(True, frozenset()) if domains is None else DomainScope(False, frozenset(domains))
    principal = Principal(sub=sub, name=name, roles=frozenset(roles), factories=frozenset({factory}))
    return RequestContext(principal, factory, scope, "trace-1")


class FakeCustomers:
    def __init__(self, uow: "FakeUnitOfWork"):
        self.uow = uow

    def add(self, customer: Customer) -> None:
        self.uow.pending.append(customer)

    def _visible(self, customer, factory_id, scope, include_deleted=False) -> bool:
        return customer.factory_id == factory_id and (include_deleted or customer.deleted_at is None) \
            and (scope is None or scope.allows(customer.business_domain))

    def get(self, factory_id, customer_id, scope=None, *, for_update=False, include_deleted=False):
        found = self.uow.rows.get(customer_id)
        return found if found is not None and self._visible(found, factory_id, scope, include_deleted) else None

    def get_many(self, factory_id, ids, scope=None, *, for_update=False, include_deleted=False):
        return {i: c for i in ids if (c := self.get(factory_id, i, scope, include_deleted=include_deleted))}

    def by_external_user_id(self, factory_id, user_id, *, for_update=False):
        return next((c for c in self.uow.rows.values()
                     if c.factory_id == factory_id and c.external_user_id == user_id), None)

    def names_taken(self, factory_id, names, exclude_id=None):
        return {c.name for c in self.uow.rows.values() if c.factory_id == factory_id and c.deleted_at is None
                and c.external_user_id is None and c.id != exclude_id} & set(names)

    def identities_taken(self, factory_id, names, codes):
        return self.names_taken(factory_id, names), self.codes_taken(factory_id, codes)

    def codes_taken(self, factory_id, codes):
        return {c.customer_code for c in self.uow.rows.values() if c.factory_id == factory_id} & set(codes)


class FakeHistory:
    def __init__(self, uow: "FakeUnitOfWork"):
        self.uow = uow

    def add(self, entries) -> None:
        self.uow.audit.extend(entries)


class FakeOrders:
    def __init__(self):
        self.facts: dict[tuple[str, str], OrderFact] = {}
        self.summaries: dict[int, OrderSummary] = {}

    def customer_of(self, factory_id, order_id):
        fact = self.facts.get((factory_id, order_id))
        return None if fact is None else fact.customer_id

    def save(self, factory_id, fact, version, now):
        self.facts[(factory_id, fact.order_id)] = fact

    def facts_of(self, customer_id):
        return [f for f in self.facts.values() if f.customer_id == customer_id]

    def save_summary(self, summary, now):
        self.summaries[summary.customer_id] = summary


class FakeUnitOfWork:
    """What the handlers use of ``CustomerUnitOfWork``; a committed transaction keeps its
    rows, events and audit entries, a rolled-back one (or savepoint) none of them."""

    def __init__(self, unique_names: bool = True):
        self.rows: dict[int, Customer] = {}
        self.pending: list[Customer] = []
        self.events: list[dict] = []
        self.audit: list = []
        self.commits = 0
        self.customers = FakeCustomers(self)
        self.history = FakeHistory(self)
        self.orders = FakeOrders()
        self.touched: set = set()
        self._ids = itertools.count(1)
        self._seen: dict[int, tuple] = {}
        self._saved = None
        self.unique_names = unique_names  # the database's unique indexes

    # transaction
    def __enter__(self):
        self._saved = self._snapshot()
        return self

    def __exit__(self, *exc):
        if self._saved is not None:
            self._restore(self._saved)
        self._saved = None

    def commit(self):
        self.flush()
        self.commits += 1
        self._saved = None

    def _snapshot(self):
        return (dict(self.rows), {i: copy.copy(c.__dict__) for i, c in self.rows.items()}, list(self.events),
                list(self.audit), dict(self._seen), list(self.pending))

    def _restore(self, saved):
        rows, states, events, audit, seen, pending = saved
        for i, customer in rows.items():
            customer.__dict__.clear()
            customer.__dict__.update(states[i])
        self.rows, self.events, self.audit, self._seen, self.pending = dict(rows), events, audit, seen, pending

    @contextlib.contextmanager
    def savepoint(self):
        saved = self._snapshot()
        try:
            yield
        except Exception:
            self._restore(saved)
            raise

    def now(self):
        return NOW

    def flush(self):
        live = {(c.factory_id, c.name) for c in self.rows.values() if c.deleted_at is None and c.external_user_id is None}
        for customer in self.pending:
            if self.unique_names and customer.name and customer.external_user_id is None and \
                    (customer.factory_id, customer.name) in live:
                self.pending = []
                raise UniqueViolation("name")
        for customer in self.pending:
            customer.id, customer.version = next(self._ids), 1
            self.rows[customer.id] = customer
            self._seen[customer.id] = self._state(customer)
        self.pending = []
        for customer in self.rows.values():  # the ORM's version counter: one per changed flush
            if self._state(customer) != self._seen[customer.id]:
                customer.version += 1
                self._seen[customer.id] = self._state(customer)

    @staticmethod
    def _state(customer):
        return tuple(getattr(customer, name, None) for name in _STATE)

    def add_event(self, event):
        self.events.append(event)

    def add_events(self, events):
        self.events.extend(events)

    def touch_customers(self, factory_id, ids):
        self.touched.update((factory_id, i) for i in ids)

    # test helpers
    def stored(self, factory_id: str = "F1", **fields) -> Customer:
        """A customer as if created earlier (committed)."""
        fields.setdefault("customer_code", f"C-{len(self.rows) + 1}")
        customer = new_customer(factory_id, fields, operator_id="u-0", operator_name="", now=NOW)
        customer.id, customer.version = next(self._ids), 1
        self.rows[customer.id] = customer
        self._seen[customer.id] = self._state(customer)
        return customer


@pytest.fixture
def uow() -> FakeUnitOfWork:
    return FakeUnitOfWork()


@pytest.fixture
def ctx_for():
    return context


@pytest.fixture
def ctx() -> RequestContext:
    return context()
