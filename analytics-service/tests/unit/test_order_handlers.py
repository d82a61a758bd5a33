"""The order use cases with a fake unit of work and a fake owner (no database, no HTTP), as
cosmicpython's tests/unit/test_handlers.py: what is written, which events leave, what each
order's outcome is."""
from __future__ import annotations

import datetime as dt
from dataclasses import replace
from decimal import Decimal as D

import pytest

from analytics_service.contracts import CATALOG
from analytics_service.domain import eligibility as e
from analytics_service.domain import orders as o
from analytics_service.domain.commands import ChangeOrder, OrderInput, OrderLineInput, RecordOrders
from analytics_service.service_layer import orders as svc
from analytics_service.service_layer.owner import OwnedCustomer, OwnerUnavailable
from crm_common.auth import DomainScope, Principal
from crm_common.context import RequestContext
from crm_common.errors import Conflict, NotFound, ServiceUnavailable

FACTORY = "F1"
NOW = dt.datetime(2026, 11, 21, 8, 0, tzinfo=dt.timezone.utc)


# --- fakes ----------------------------------------------------------------------------------------

class FakeOrders:
    def __init__(self):
        self.rows: dict[tuple[str, str], o.RecordedOrder] = {}
        self.refreshed: list[set] = []
        self._pk = 0

    def lock_customers(self, factory_id, customer_ids):
        pass

    def get_many(self, factory_id, order_ids, *, lock=False):
        return {i: self.rows[(factory_id, i)] for i in order_ids if (factory_id, i) in self.rows}

    def get(self, factory_id, order_id, *, lock=False):
        return self.rows.get((factory_id, order_id))

    def save(self, factory_id, orders, *, source, now):
        for order, version in orders:
            before = self.rows.get((factory_id, order.order_id))
            if before is None:
                self._pk += 1
            pk = before.pk if before else self._pk
            self.rows[(factory_id, order.order_id)] = o.RecordedOrder(order, pk, version, source, now, now)
        return {order.order_id: self.rows[(factory_id, order.order_id)].pk for order, _v in orders}

    def refresh_totals(self, factory_id, customer_ids):
        self.refreshed.append(set(customer_ids))


class FakeReadModel:
    def __init__(self):
        self.scopes: dict[int, tuple[str, str]] = {}
        self.due_dates_refreshed: list[set[int]] = []

    def refresh_due_dates(self, factory_id, customer_ids):
        self.due_dates_refreshed.append(set(customer_ids))

    def customer_scopes(self, customer_ids):
        return {cid: self.scopes[cid] for cid in customer_ids if cid in self.scopes}


class FakeFreshness:
    ORDERS = "orders"

    def note(self, *args, **kwargs):
        pass


class FakeUnitOfWork:
    def __init__(self):
        self.orders, self.read_model, self.freshness = FakeOrders(), FakeReadModel(), FakeFreshness()
        self.events: list[dict] = []
        self.commits = 0
        self._pending: list[dict] = []

    def __enter__(self):
        self._pending = []
        return self

    def __exit__(self, *exc):
        self._pending = []  # without commit(): rolled back

    def add_event(self, event):
        self._pending.append(event)

    def commit(self):
        self.events += self._pending
        self._pending = []
        self.commits += 1


class FakeOwner:
    def __init__(self):
        self.answers: dict[int, e.Eligibility] = {}
        self.known: dict[int, OwnedCustomer] = {}
        self.down = False
        self.asked: list[int] = []

    def customer(self, customer_id):
        if self.down:
            raise OwnerUnavailable("down")
        return self.known.get(customer_id)

    def order_eligibility(self, customer_ids):
        if self.down:
            raise OwnerUnavailable("down")
        self.asked += sorted(customer_ids)
        return {cid: self.answers.get(cid) for cid in customer_ids}

    def eligible(self, customer_id, *refusals):
        """A customer the caller may see (and its answer to "may it get a new order?")."""
        self.answers[customer_id] = e.Eligibility(customer_id, not refusals, tuple(refusals))
        self.known[customer_id] = OwnedCustomer(customer_id, FACTORY, "DEFAULT", "客户", 3, "active", D(0), D(0))


def context(domains=("*",), sub="u-1", name="王财务") -> RequestContext:
    scope = DomainScope(True, frozenset()) if "*" in domains else DomainScope(False, frozenset(domains))
    return RequestContext(Principal(sub=sub, name=name, roles=frozenset({"finance_admin"}),
                                    factories=frozenset({FACTORY}), domains=frozenset(domains)),
                          FACTORY, scope, "trace-1")


def order_input(order_id="O-1", customer_id=7, status="PENDING", amount="100", **kw) -> OrderInput:
    return OrderInput(order_id=order_id, customer_id=customer_id, order_date=dt.date(2026, 11, 1), status=status,
                      items=(OrderLineInput("猪肉", D(1), D(amount)),), **kw)


@pytest.fixture
def uow():
    return FakeUnitOfWork()


@pytest.fixture
def owner():
    fake = FakeOwner()
    fake.eligible(7)
    return fake


def record(uow, owner, *inputs, ctx=None):
    return svc.record_orders(RecordOrders(ctx or context(), tuple(inputs)), uow, owner, now=NOW)


# --- recording ---------------------------------------------------------------------------------------

def test_a_new_order_is_written_with_one_order_recorded_event_that_keeps_its_contract(uow, owner):
    result = record(uow, owner, order_input())
    assert [(x.order_id, x.outcome) for x in result.outcomes] == [("O-1", "created")] and result.status == 200
    [event] = uow.events
    CATALOG.validate(event)
    assert (event["event_type"], event["aggregate_version"], event["data"]["status"], event["data"]["open"]) == \
        ("order.recorded", 1, "PENDING", True)
    assert owner.asked == [7] and uow.orders.refreshed == [{7}]
    # The last order date moved: the customer's due day (seed 001 §7.2) follows.
    assert uow.read_model.due_dates_refreshed == [{7}]


def test_the_same_order_again_writes_nothing_and_a_change_is_order_updated(uow, owner):
    record(uow, owner, order_input())
    again = record(uow, owner, order_input())
    assert again.outcomes[0].outcome == "unchanged" and len(uow.events) == 1
    changed = record(uow, owner, order_input(status="SHIPPED", amount="120"))
    assert changed.outcomes[0].outcome == "updated"
    event = uow.events[-1]
    CATALOG.validate(event)
    assert (event["event_type"], event["aggregate_version"], event["data"]["previous_status"]) == \
        ("order.updated", 2, "PENDING")
    assert event["changed_fields"] == ["items", "status", "total_amount"]
    assert owner.asked == [7]  # recorded orders are not asked about again


def test_refusals_name_their_rules_and_an_override_is_recorded_with_the_operator(uow, owner):
    owner.eligible(8, e.Refusal(e.CUSTOMER_OVERDUE, "逾期 40 天", True), e.Refusal(e.CUSTOMER_HIGH_RISK, "高风险", True))
    refused = record(uow, owner, order_input(customer_id=8))
    problem = refused.outcomes[0].problem
    assert (problem.status, problem.code, [r.rule for r in problem.refusals]) == \
        (409, "CUSTOMER_OVERDUE", ["CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"])
    assert refused.status == 400 and uow.events == []
    override = e.OverrideRequest(frozenset({"CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK"}), "经理批准")
    accepted = record(uow, owner, order_input(customer_id=8, override=override))
    recorded = accepted.outcomes[0].recorded.order
    assert recorded.override.rules == ("CUSTOMER_OVERDUE", "CUSTOMER_HIGH_RISK")
    assert (recorded.override.operator_id, recorded.override.operator_name, recorded.override.reason) == \
        ("u-1", "王财务", "经理批准")
    assert uow.events[-1]["data"]["override"]["operator"] == {"sub": "u-1", "name": "王财务"}


def test_unknown_customers_are_404_naming_them_and_the_rest_of_the_batch_is_written(uow, owner):
    result = record(uow, owner, order_input("O-1"), order_input("O-2", customer_id=99))
    assert [(x.order_id, x.outcome) for x in result.outcomes] == [("O-1", "created"), ("O-2", "failed")]
    problem = result.outcomes[1].problem
    assert (problem.status, problem.code, problem.field) == (404, "CUSTOMER_NOT_FOUND", "customer_id")
    assert "99" in problem.message and result.status == 207 and len(uow.events) == 1


def test_owner_unreachable_is_503_with_retry_after_and_nothing_is_written(uow, owner):
    owner.down = True
    with pytest.raises(ServiceUnavailable) as exc:
        record(uow, owner, order_input())
    assert exc.value.headers["Retry-After"] and exc.value.error_code == "CUSTOMER_SERVICE_UNAVAILABLE"
    assert uow.orders.rows == {} and uow.events == [] and uow.commits == 0


def test_a_recorded_order_outside_the_callers_domains_cannot_be_changed(uow, owner):
    record(uow, owner, order_input())
    uow.read_model.scopes[7] = (FACTORY, "D2")
    result = record(uow, owner, order_input(status="CANCELLED"), ctx=context(domains=("D1",)))
    assert result.outcomes[0].problem.code == "ORDER_NOT_FOUND" and len(uow.events) == 1


def test_a_lifecycle_refusal_in_a_batch_fails_that_order_alone(uow, owner):
    owner.eligible(8)
    record(uow, owner, order_input("O-1", status="COMPLETED"), order_input("O-2", customer_id=8))
    result = record(uow, owner, order_input("O-1", status="PENDING"), order_input("O-2", customer_id=8,
                                                                                    status="CONFIRMED"))
    assert [(x.outcome, x.problem.code if x.problem else None) for x in result.outcomes] == \
        [("failed", "ORDER_STATUS_TRANSITION"), ("updated", None)]


# --- the lifecycle through change_order -----------------------------------------------------------------

def test_change_order_walks_the_lifecycle_and_refuses_a_way_back(uow, owner):
    record(uow, owner, order_input())
    uow.read_model.scopes[7] = (FACTORY, "DEFAULT")
    for status in ("CONFIRMED", "SHIPPED", "COMPLETED"):
        outcome, recorded = svc.change_order(ChangeOrder(context(), "O-1", status=status), uow, owner, now=NOW)
        assert outcome == "updated" and recorded.order.status == status
    assert [(ev["event_type"], ev["aggregate_version"], ev["data"]["previous_status"]) for ev in uow.events] == [
        ("order.recorded", 1, None), ("order.updated", 2, "PENDING"), ("order.updated", 3, "CONFIRMED"),
        ("order.updated", 4, "SHIPPED")]
    assert uow.events[-1]["data"]["open"] is False
    with pytest.raises(Conflict) as exc:
        svc.change_order(ChangeOrder(context(), "O-1", status="CANCELLED"), uow, owner, now=NOW)
    assert exc.value.error_code == "ORDER_STATUS_TRANSITION"
    outcome, _ = svc.change_order(ChangeOrder(context(), "O-1", paid_date=dt.date(2026, 11, 20)), uow, owner, now=NOW)
    assert outcome == "updated" and uow.events[-1]["data"]["payment_status"] == "PAID"
    outcome, _ = svc.change_order(ChangeOrder(context(), "O-1", status="COMPLETED"), uow, owner, now=NOW)
    assert outcome == "unchanged" and len(uow.events) == 5


def test_change_order_of_an_unknown_or_invisible_order_is_404(uow, owner):
    with pytest.raises(NotFound):
        svc.change_order(ChangeOrder(context(), "NOPE", status="CONFIRMED"), uow, owner, now=NOW)
    record(uow, owner, order_input())
    # the read model does not know customer 7 yet and the owner no longer shows it to this caller
    del owner.known[7]
    with pytest.raises(NotFound):
        svc.change_order(ChangeOrder(context(), "O-1", status="CONFIRMED"), uow, owner, now=NOW)
    owner.known[7] = OwnedCustomer(7, FACTORY, "DEFAULT", "甲", 3, "active", D(0), D(0))
    outcome, _ = svc.change_order(ChangeOrder(context(), "O-1", status="CONFIRMED"), uow, owner, now=NOW)
    assert outcome == "updated"


def test_another_producers_change_that_breaks_the_lifecycle_is_an_invalid_event(uow, owner):
    from crm_common.events import InvalidEvent
    done = o.build_order(order_id="E-1", customer_id=7, order_date=dt.date(2026, 11, 1), status="COMPLETED",
                         payment_status="UNPAID", items=[{"product_name": "p", "quantity": D(1), "unit_price": D(5)}])
    assert svc.apply_order_event(uow, FACTORY, done, 2, source="erp")
    assert not svc.apply_order_event(uow, FACTORY, replace(done, status="PENDING"), 1, source="erp")  # older
    with pytest.raises(InvalidEvent, match="ORDER_STATUS_TRANSITION"):
        svc.apply_order_event(uow, FACTORY, replace(done, status="PENDING"), 3, source="erp")
