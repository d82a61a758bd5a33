"""Money of the tenant API (seed 001 §4, §7.2): credit limits, balances and who owes
what. Every change is audited (credit_limit_changes, balance_transactions) and emits
``customer.updated`` in the same unit of work."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from crm_common.context import RequestContext
from crm_common.db import utcnow

from ..adapters import orm
from ..adapters.repository import CustomerFilter
from ..domain import receivables
from ..domain.model import Customer
from . import customers as core
from .mobile_customers import record_balance_change, record_credit_limit_change
from .unit_of_work import CustomerUnitOfWork


def set_credit_limit(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int,
                     credit_limit: Decimal) -> Customer:
    """Seed 001 §4.1. A limit below the current debt is accepted; the reply warns."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        old_limit = customer.credit_limit
        changed = core.apply_update(uow, ctx, customer, {"credit_limit": Decimal(credit_limit)})
        if changed:
            record_credit_limit_change(uow, ctx, customer, old_limit)
        uow.commit()
    return customer


def set_balance(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int,
                balance: Decimal) -> Customer:
    """Seed 001 §4.2: the new balance (negative = owes), one balance_transactions row per
    change; ``debt_since`` and ``last_payment_date`` follow (see ``Customer.set_balance``)."""
    with uow:
        customer = core.load_customer(uow, ctx, customer_id, for_update=True)
        old_balance = Decimal(customer.current_balance)
        before = (customer.debt_since, customer.last_payment_date)
        now = utcnow()
        if customer.set_balance(Decimal(balance), now) != 0:
            customer.touch(ctx.operator_id, ctx.operator_name, now)
            changed = ["current_balance"]
            if customer.debt_since != before[0]:
                changed.append("debt_since")
            if customer.last_payment_date != before[1]:
                changed.append("last_payment_date")
            core.emit_customer_event(uow, customer, "customer.updated", ctx, changed)
            record_balance_change(uow, ctx, customer, old_balance, "adjustment")
        uow.commit()
    return customer


def outstanding_balances(uow: CustomerUnitOfWork, ctx: RequestContext, limit: int) -> tuple[list[Customer], bool]:
    """Seed 001 §7.2: customers who owe money, largest debt first, each with the part of
    its debt past the payment terms (``receivables.overdue_position`` over its balance
    history). ``True`` when more than ``limit`` customers owe money."""
    c = orm.customers.c
    now = utcnow()
    with uow:
        stmt = uow.customers.filtered(ctx.factory_id, ctx.scope, CustomerFilter()).where(c.current_balance < 0)
        rows = uow.session.scalars(stmt.order_by(c.current_balance.asc(), c.id.asc()).limit(limit + 1)).unique().all()
        debtors = list(rows[:limit])
        charges = _charges_of(uow, [d.id for d in debtors])
    for debtor in debtors:
        debtor.overdue = receivables.overdue_position(
            debtor.current_balance, charges.get(debtor.id, ()), debtor.payment_terms, now, debtor.debt_since)
    return debtors, len(rows) > limit


def _charges_of(uow: CustomerUnitOfWork, customer_ids: list[int]) -> dict[int, list[receivables.BalanceChange]]:
    """The balance decreases (charges) of each customer; payments only matter through the
    current balance, so they are not loaded."""
    t = orm.balance_transactions.c
    out: dict[int, list[receivables.BalanceChange]] = {}
    for start in range(0, len(customer_ids), 1000):
        chunk = customer_ids[start:start + 1000]
        rows = uow.session.execute(sa.select(t.customer_id, t.created_at, t.amount).where(
            t.customer_id.in_(chunk), t.amount < 0).order_by(t.customer_id, t.created_at.desc()))
        for customer_id, at, amount in rows:
            out.setdefault(customer_id, []).append(receivables.BalanceChange(at, Decimal(amount)))
    return out
