"""What the customer's audit trail records (seed 001 §3-§4, seed 003): each status,
rating, credit limit and balance change with its operator and time. Plain data; the unit
of work's ``history`` repository stores and reads them."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from crm_common.context import RequestContext

from . import rules
from .model import Customer

KINDS = ("status", "rating", "credit_limit", "balance")


@dataclass(frozen=True)
class Change:
    customer_id: int
    factory_id: str
    operator_id: str | None
    operator_name: str | None
    trace_id: str | None
    at: dt.datetime


@dataclass(frozen=True)
class StatusChange(Change):
    from_status: str | None
    to_status: str
    reason: str | None


@dataclass(frozen=True)
class RatingChange(Change):
    old_rating: int | None
    new_rating: int
    notes: str | None


@dataclass(frozen=True)
class CreditLimitChange(Change):
    old_limit: Decimal
    new_limit: Decimal
    balance_at_change: Decimal
    exceeds_limit: bool


@dataclass(frozen=True)
class BalanceChange(Change):
    old_balance: Decimal
    new_balance: Decimal
    amount: Decimal
    kind: str             # opening (a new customer's balance) or adjustment
    note: str | None


def _who(customer: Customer, ctx: RequestContext, now: dt.datetime) -> dict:
    return dict(customer_id=customer.id, factory_id=customer.factory_id, operator_id=ctx.operator_id,
                operator_name=ctx.operator_name, trace_id=ctx.trace_id, at=now)


def status_change(customer: Customer, previous: str | None, reason: str | None, ctx: RequestContext,
                  now: dt.datetime) -> StatusChange:
    return StatusChange(**_who(customer, ctx, now), from_status=previous, to_status=customer.status, reason=reason)


def rating_change(customer: Customer, old_rating: int | None, ctx: RequestContext, now: dt.datetime) -> RatingChange:
    return RatingChange(**_who(customer, ctx, now), old_rating=old_rating, new_rating=customer.rating,
                        notes=customer.rating_notes)


def credit_limit_change(customer: Customer, old_limit: Decimal, ctx: RequestContext,
                        now: dt.datetime) -> CreditLimitChange:
    return CreditLimitChange(**_who(customer, ctx, now), old_limit=Decimal(old_limit),
                             new_limit=Decimal(customer.credit_limit), balance_at_change=Decimal(customer.current_balance),
                             exceeds_limit=rules.exceeds_credit_limit(customer.credit_limit, customer.current_balance))


def balance_change(customer: Customer, old_balance: Decimal, kind: str, ctx: RequestContext, now: dt.datetime,
                   note: str | None = None) -> BalanceChange:
    new = Decimal(customer.current_balance)
    return BalanceChange(**_who(customer, ctx, now), old_balance=Decimal(old_balance), new_balance=new,
                         amount=new - Decimal(old_balance), kind=kind, note=note)


def opening_entries(customer: Customer, ctx: RequestContext, now: dt.datetime) -> list[Change]:
    """A new customer's opening credit limit and balance, as changes from zero."""
    entries: list[Change] = []
    if Decimal(customer.credit_limit or 0) != 0:
        entries.append(credit_limit_change(customer, Decimal(0), ctx, now))
    if Decimal(customer.current_balance or 0) != 0:
        entries.append(balance_change(customer, Decimal(0), "opening", ctx, now))
    return entries
