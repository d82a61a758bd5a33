"""The customer handlers with an in-memory unit of work (no database, no web): each
operation's rules and its one set of side effects — the customer, its event, its audit
rows — whichever surface or batch asks."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm_common.errors import Forbidden
from customer_service.domain import commands, history
from customer_service.domain.errors import (
    BatchRefused,
    CodeImmutable,
    CodeTaken,
    CustomerHasDebt,
    CustomerHasOpenOrders,
    CustomerNotFound,
    FinanceRoleRequired,
    NameTaken,
    Refusals,
    TransitionNotAllowed,
    VersionMismatch,
)
from customer_service.domain.orders import order_eligibility
from customer_service.events import CATALOG
from customer_service.service_layer import bulk, customers, imports, orders

TODAY = dt.date(2026, 3, 31)


def events_of(uow, customer_id):
    return [e for e in uow.events if e["aggregate_id"] == str(customer_id)]


def test_create_writes_the_customer_its_event_and_the_audit_of_its_opening_credit_limit(uow, ctx):
    customer = customers.create_customer(commands.CreateCustomer(ctx, {"name": "甲", "credit_limit": Decimal(500)}),
                                         uow)
    assert uow.commits == 1 and customer.id in uow.rows
    assert (customer.status, customer.rating, customer.payment_terms, customer.current_balance) == \
        ("active", 3, 30, 0)  # seed 001 §1.1 defaults
    [event] = events_of(uow, customer.id)
    assert event["event_type"] == "customer.created" and event["actor"] == {"sub": "u-1", "name": "张三"}
    CATALOG.validate(event)
    [audit] = uow.audit
    assert isinstance(audit, history.CreditLimitChange) and (audit.old_limit, audit.new_limit) == (0, 500)


def test_none_is_the_default_and_the_code_is_generated_with_the_source_prefix(uow, ctx):
    customer = customers.create_customer(commands.CreateCustomer(
        ctx, {"name": "乙", "type": None, "status": None, "credit_limit": None, "source": "rb", "customer_code": None}),
        uow)
    assert (customer.status, customer.credit_limit, customer.type) == ("active", 0, None)
    assert customer.customer_code.startswith("RB-") and uow.audit == []


def test_an_opening_balance_needs_a_finance_role_and_is_audited(uow, ctx_for):
    sales = ctx_for(roles=["sales_admin"])
    with pytest.raises(FinanceRoleRequired) as refused:
        customers.create_customer(commands.CreateCustomer(sales, {"name": "丙", "current_balance": Decimal(-5)}), uow)
    assert refused.value.field == "current_balance" and uow.rows == {} and uow.events == []
    customer = customers.create_customer(commands.CreateCustomer(
        ctx_for(roles=["finance_admin"]), {"name": "丙", "current_balance": Decimal(-5)}), uow)
    assert customer.debt_since is not None
    assert [(type(a).__name__, a.kind) for a in uow.audit] == [("BalanceChange", "opening")]


def test_a_taken_code_and_name_are_refused_together_and_nothing_is_written(uow, ctx):
    uow.stored(name="甲", customer_code="C-1")
    with pytest.raises(Refusals) as refused:
        customers.create_customer(commands.CreateCustomer(ctx, {"name": "甲", "customer_code": "C-1"}), uow)
    assert [type(r) for r in refused.value.refusals] == [CodeTaken, NameTaken]
    assert len(uow.rows) == 1 and uow.events == []


def test_a_domain_the_caller_may_not_use_is_forbidden(uow, ctx_for):
    with pytest.raises(Forbidden):
        customers.create_customer(commands.CreateCustomer(ctx_for(domains=["GW"]),
                                                          {"name": "丁", "business_domain": "COLD"}), uow)
    created = customers.create_customer(commands.CreateCustomer(ctx_for(domains=["GW"]), {"name": "丁"}), uow)
    assert created.business_domain == "GW"  # the caller's only domain is the default


def test_an_update_is_one_event_naming_every_change_with_its_audit_rows(uow, ctx):
    stored = uow.stored(name="甲", rating=3, credit_limit=Decimal(100))
    customers.update_customer(commands.UpdateCustomer(ctx, stored.id, {
        "notes": "改", "rating": 5, "credit_limit": Decimal(200), "status": "frozen"}), uow)
    [event] = events_of(uow, stored.id)
    assert event["changed_fields"] == ["credit_limit", "notes", "rating", "status"]
    assert event["aggregate_version"] == 2 and event["options"] == {"auto_sync": True}
    assert sorted(type(a).__name__ for a in uow.audit) == ["CreditLimitChange", "RatingChange", "StatusChange"]


def test_an_update_that_changes_nothing_writes_nothing(uow, ctx):
    stored = uow.stored(name="甲", notes="同")
    customers.update_customer(commands.UpdateCustomer(ctx, stored.id, {"notes": "同", "customer_code": stored.customer_code}),
                              uow)
    assert uow.events == [] and uow.audit == [] and stored.version == 1


@pytest.mark.parametrize("changes, refusal", [
    ({"name": "乙"}, NameTaken), ({"customer_code": "OTHER"}, CodeImmutable), ({"status": "potential"}, TransitionNotAllowed),
])
def test_an_update_refused_by_a_rule_changes_nothing(uow, ctx, changes, refusal):
    uow.stored(name="乙")
    stored = uow.stored(name="甲")
    with pytest.raises(refusal):
        customers.update_customer(commands.UpdateCustomer(ctx, stored.id, changes), uow)
    assert stored.name == "甲" and stored.status == "active" and uow.events == []


def test_a_credit_limit_change_needs_a_finance_role_on_every_path(uow, ctx_for):
    stored = uow.stored(name="甲", credit_limit=Decimal(100))
    sales = ctx_for(roles=["sales_admin"])
    with pytest.raises(FinanceRoleRequired):
        customers.update_customer(commands.UpdateCustomer(sales, stored.id, {"credit_limit": Decimal(1)}), uow)
    customers.update_customer(commands.UpdateCustomer(sales, stored.id, {"credit_limit": Decimal(100), "notes": "x"}),
                              uow)  # the same limit is no change
    assert stored.notes == "x" and uow.audit == []


def test_a_stale_version_is_refused(uow, ctx):
    stored = uow.stored(name="甲")
    with pytest.raises(VersionMismatch):
        customers.update_customer(commands.UpdateCustomer(ctx, stored.id, {"notes": "x"}, expected_version=7), uow)


def test_activation_follows_the_state_machine_and_is_recorded(uow, ctx):
    stored = uow.stored(name="甲")
    customers.set_active(commands.SetActive(ctx, stored.id, False), uow)
    [entry] = uow.audit
    assert (stored.status, entry.from_status, entry.to_status, entry.reason) == ("inactive", "active", "inactive", "停用")
    blacklisted = uow.stored(name="乙", status="blacklisted")
    with pytest.raises(TransitionNotAllowed) as refused:
        customers.set_active(commands.SetActive(ctx, blacklisted.id, True), uow)
    assert refused.value.params == {"current": "blacklisted", "target": "active"}


def test_balance_changes_are_transactions_and_track_the_debt(uow, ctx):
    stored = uow.stored(name="甲")
    customers.set_balance(commands.SetBalance(ctx, stored.id, Decimal(-300)), uow)
    customers.set_balance(commands.SetBalance(ctx, stored.id, Decimal(-300)), uow)  # no change, no row
    customers.set_balance(commands.SetBalance(ctx, stored.id, Decimal(50)), uow)
    assert [(a.old_balance, a.new_balance, a.amount) for a in uow.audit] == [(0, -300, -300), (-300, 50, 350)]
    assert [e["changed_fields"] for e in uow.events] == [["current_balance", "debt_since"],
                                                         ["current_balance", "debt_since", "last_payment_date"]]


def test_delete_is_refused_while_the_customer_owes_money_or_has_open_orders(uow, ctx):
    owes = uow.stored(name="欠款", current_balance=Decimal(-1))
    with pytest.raises(CustomerHasDebt):
        customers.delete_customer(commands.DeleteCustomer(ctx, owes.id), uow)
    ordering = uow.stored(name="订单")
    orders.record_order(commands.RecordOrder("F1", "O-1", ordering.id, "PENDING", TODAY, Decimal(10), 1), uow)
    ordering.orders = uow.orders.summaries[ordering.id]
    with pytest.raises(CustomerHasOpenOrders):
        customers.delete_customer(commands.DeleteCustomer(ctx, ordering.id), uow)
    orders.record_order(commands.RecordOrder("F1", "O-1", ordering.id, "COMPLETED", TODAY, Decimal(10), 2), uow)
    ordering.orders = uow.orders.summaries[ordering.id]
    customers.delete_customer(commands.DeleteCustomer(ctx, ordering.id), uow)
    assert ordering.deleted_at is not None and events_of(uow, ordering.id)[-1]["event_type"] == "customer.deleted"
    with pytest.raises(CustomerNotFound):
        customers.delete_customer(commands.DeleteCustomer(ctx, ordering.id), uow)


def test_order_events_keep_open_orders_figures_and_the_last_order_date(uow):
    customer = uow.stored(name="甲")
    for order_id, status, day, amount in (("A", "PENDING", 1, 100), ("B", "COMPLETED", 5, 200),
                                          ("C", "CANCELLED", 9, 999)):
        orders.record_order(commands.RecordOrder("F1", order_id, customer.id, status, dt.date(2026, 1, day),
                                                 Decimal(amount), 1), uow)
    summary = uow.orders.summaries[customer.id]
    assert (summary.open_orders, summary.total_orders, summary.total_revenue) == (1, 2, 300)
    assert (summary.first_order_date, summary.last_order_date) == (dt.date(2026, 1, 1), dt.date(2026, 1, 5))
    assert uow.touched == {("F1", customer.id)}


def test_an_order_for_a_customer_of_another_tenant_is_ignored(uow):
    stranger = uow.stored(name="甲", factory_id="F2")
    orders.record_order(commands.RecordOrder("F1", "A", stranger.id, "PENDING", TODAY, Decimal(1), 1), uow)
    assert uow.orders.facts == {} and uow.orders.summaries == {}


def test_eligibility_names_each_rule_that_refuses_a_new_order(uow):
    fine = uow.stored(name="甲")
    assert order_eligibility(fine, TODAY).eligible
    inactive = uow.stored(name="乙", status="inactive")
    assert [(r.rule, r.overridable) for r in order_eligibility(inactive, TODAY).refusals] == \
        [("CUSTOMER_INACTIVE", False)]
    overdue = uow.stored(name="丙", current_balance=Decimal(-100), credit_limit=Decimal(1000), payment_terms=30)
    orders.record_order(commands.RecordOrder("F1", "O", overdue.id, "SHIPPED", TODAY - dt.timedelta(days=62),
                                             Decimal(100), 1), uow)
    overdue.orders = uow.orders.summaries[overdue.id]
    answer = order_eligibility(overdue, TODAY)
    assert [(r.rule, r.overridable) for r in answer.refusals] == [("CUSTOMER_OVERDUE", True),
                                                                   ("CUSTOMER_HIGH_RISK", True)]
    assert (answer.position.overdue_days, answer.position.risk_level) == (32, "HIGH_RISK")


def test_bulk_create_fails_each_bad_record_alone_and_reports_an_earlier_duplicate(uow, ctx):
    uow.stored(name="已有")
    reply = bulk.bulk_create(commands.BulkCreateCustomers(ctx, {0: {"name": "新"}, 1: {"name": "已有"},
                                                               2: {"name": "新"}, 3: {"name": "别", "credit_limit": 9}}),
                             uow, respond=lambda outcome: (200, {"outcome": outcome}))
    outcome = reply.data["outcome"]
    assert sorted(outcome.done) == [0, 3] and uow.commits == 1
    assert isinstance(outcome.failed[1], NameTaken) and outcome.failed[1].params["earlier"] is None
    assert outcome.failed[2].params == {"name": "新", "earlier": 0}
    assert len([a for a in uow.audit if isinstance(a, history.CreditLimitChange)]) == 1


def test_bulk_create_retries_one_by_one_when_the_database_refuses_the_batch(uow, ctx):
    uow.stored(name="抢先")
    uow.customers.names_taken = lambda *_args, **_kw: set()  # the check saw every name free
    reply = bulk.bulk_create(commands.BulkCreateCustomers(ctx, {0: {"name": "抢先"}, 1: {"name": "清白"}}), uow,
                             respond=lambda outcome: (200, {"outcome": outcome}))
    outcome = reply.data["outcome"]
    assert list(outcome.done) == [1] and isinstance(outcome.failed[0], NameTaken)
    assert [e["data"]["name"] for e in uow.events] == ["清白"]


def test_a_dry_run_answers_what_would_happen_and_writes_nothing(uow, ctx):
    reply = bulk.bulk_create(commands.BulkCreateCustomers(ctx, {0: {"name": "演练"}}, dry_run=True), uow,
                             respond=lambda outcome: (200, {"created": len(outcome.done)}))
    assert reply.data == {"created": 1} and uow.rows == {} and uow.events == [] and uow.commits == 0


def test_the_json_import_writes_everything_or_nothing(uow, ctx):
    uow.stored(name="已有", customer_code="J-9")
    with pytest.raises(BatchRefused) as refused:
        imports.import_customers(commands.ImportCustomers(ctx, (
            {"name": "甲", "customer_code": "J-1"}, {"name": "乙", "customer_code": "J-9"},
            {"name": "甲", "customer_code": "J-3"})), uow)
    assert set(refused.value.items) == {1, 2} and refused.value.items[2].params == {"name": "甲", "earlier": 0}
    assert len(uow.rows) == 1 and uow.events == []
    created = imports.import_customers(commands.ImportCustomers(ctx, ({"name": "甲", "customer_code": "J-1"},)), uow)
    assert [c.name for c in created] == ["甲"]


def test_the_external_upsert_creates_with_defaults_then_never_erases(uow, ctx_for):
    integrator = ctx_for(roles=["integrator"])
    customer, created = customers.upsert_external_customer(commands.UpsertExternalCustomer(
        integrator, "agent-1", {"name": "张三", "wechat": "zs"}), uow)
    assert created and (customer.lead_status, customer.source, customer.customer_code[:9]) == (1, "external", "EXTERNAL-")
    again, created = customers.upsert_external_customer(commands.UpsertExternalCustomer(
        integrator, "agent-1", {"name": None, "wechat": "", "nickname": "小张"}), uow)
    assert not created and again is customer and (customer.name, customer.wechat, customer.nickname) == \
        ("张三", "zs", "小张")
    hidden = customers.upsert_external_customer
    with pytest.raises(CustomerNotFound):
        hidden(commands.UpsertExternalCustomer(ctx_for(roles=["integrator"], domains=["OTHER"]), "agent-1", {}), uow)
