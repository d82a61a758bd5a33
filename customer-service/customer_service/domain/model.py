"""The customer aggregate and its neighbours as plain classes (mapped onto tables by
``adapters.orm``). Methods enforce the rules and raise ``domain.errors``; they never touch
the database."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from . import groups, rules
from .errors import (
    CustomerHasDebt,
    CustomerHasOpenOrders,
    MemberLimitExceeded,
    MembersNotFound,
    MembersOfAnotherDomain,
    TransitionNotAllowed,
)

# Fields a caller may write on a customer (system fields excluded: balance, status, ...).
EDITABLE_FIELDS = frozenset({
    "name", "type", "value_level", "business_license_number", "industry_type", "company_size",
    "primary_contact_name", "primary_contact_phone", "email", "address", "tax_number",
    "notes", "business_domain", "source", "source_ref_id", "payment_terms", "credit_limit",
    "rating", "rating_notes",
    # seed 002
    "bot_id", "nickname", "backup_phone", "wechat", "lead_status", "community",
    "business_type", "room_type", "room_tags", "move_in_date", "lease_period", "price_range",
    "source_channel", "creator", "internal_notes",
})
# What a new customer may be created with besides the editable fields.
CREATION_FIELDS = EDITABLE_FIELDS | {"customer_code", "status", "current_balance", "external_user_id"}
# Seed 001 §1.1 defaults of the fields a caller may leave out.
DEFAULTS = {"status": "active", "credit_limit": Decimal(0), "current_balance": Decimal(0), "payment_terms": 30,
            "rating": 3, "business_domain": "DEFAULT", "source": "manual", "viewing_count": 0,
            "total_commission": Decimal(0)}


class Company:
    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)


class CustomerGroup:
    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def check_new_members(self, requested, domains_by_id) -> list[int]:
        """The member ids to store (each once), or the refusal of the set: unknown customers,
        customers of another business domain, more than ``max_member``. ``domains_by_id``:
        customer id -> business domain, for those found."""
        check = groups.check_membership(self.business_domain, self.max_member, requested, domains_by_id)
        if check.missing:
            raise MembersNotFound(ids=", ".join(map(str, check.missing)))
        if check.foreign:
            raise MembersOfAnotherDomain(domain=self.business_domain, ids=", ".join(map(str, check.foreign)))
        if check.over_limit:
            raise MemberLimitExceeded(limit=check.limit, count=len(groups.unique_ids(requested)))
        return groups.unique_ids(requested)


class OrderSummary:
    """What customer-service knows of a customer's orders (from order events): orders not
    yet COMPLETED or CANCELLED, and the figures of the orders that count (not cancelled)."""

    def __init__(self, *, customer_id: int | None = None, factory_id: str | None = None, open_orders: int = 0,
                 total_orders: int = 0, total_revenue: Decimal = Decimal(0), first_order_date: dt.date | None = None,
                 last_order_date: dt.date | None = None):
        self.customer_id, self.factory_id = customer_id, factory_id
        self.open_orders, self.total_orders, self.total_revenue = open_orders, total_orders, total_revenue
        self.first_order_date, self.last_order_date = first_order_date, last_order_date


@dataclass(frozen=True)
class _NoOrders:
    open_orders: int = 0
    total_orders: int = 0
    total_revenue: Decimal = Decimal(0)
    first_order_date: dt.date | None = None
    last_order_date: dt.date | None = None


NO_ORDERS = _NoOrders()  # a customer no order event has named yet


@dataclass(frozen=True)
class CreditPosition:
    """A customer's credit and risk figures on one day (seed 001 §4, §7.2, 信用风险等级)."""
    available_credit: Decimal
    credit_utilization: Decimal | None
    exceeds_credit_limit: bool
    is_overdue: bool
    overdue_days: int
    overdue_amount: Decimal
    risk_level: str


class Customer:
    lifetime_value: Decimal | None = None  # analytics' estimate, when a read asked for it

    def __init__(self, **fields):
        for key, value in DEFAULTS.items():
            fields.setdefault(key, value)
        for key, value in fields.items():
            setattr(self, key, value)

    # --- state -------------------------------------------------------------------------
    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_active(self) -> bool:
        return self.status == "active"

    @property
    def owes_money(self) -> bool:
        return Decimal(self.current_balance) < 0

    @property
    def order_summary(self) -> OrderSummary | _NoOrders:
        orders = getattr(self, "orders", None)
        return NO_ORDERS if orders is None else orders

    @property
    def available_credit(self) -> Decimal:
        return rules.available_credit(self.credit_limit, self.current_balance)

    @property
    def credit_utilization(self) -> Decimal | None:
        return rules.credit_utilization(self.credit_limit, self.current_balance)

    def overdue_days(self, today: dt.date, tz: dt.tzinfo = dt.timezone.utc) -> int:
        return rules.overdue_days(self.current_balance, self.debt_since, self.payment_terms, today,
                                  last_order_date=self.order_summary.last_order_date, tz=tz)

    def credit_position(self, today: dt.date, tz: dt.tzinfo = dt.timezone.utc) -> CreditPosition:
        days = self.overdue_days(today, tz)
        return CreditPosition(
            available_credit=self.available_credit,
            credit_utilization=self.credit_utilization,
            exceeds_credit_limit=rules.exceeds_credit_limit(self.credit_limit, self.current_balance),
            is_overdue=days > 0,
            overdue_days=days,
            overdue_amount=rules.overdue_amount(self.current_balance, days),
            risk_level=rules.risk_level(self.rating, self.credit_limit, self.current_balance, days))

    # --- behaviour -----------------------------------------------------------------------
    def apply_changes(self, changes: dict, *, operator_id: str, operator_name: str,
                      now: dt.datetime) -> list[str]:
        """Set editable fields; returns the names that really changed (incremental)."""
        changed = []
        for key, value in changes.items():
            if key not in EDITABLE_FIELDS:
                raise ValueError(f"{key} is not editable")
            if getattr(self, key, None) != value:
                setattr(self, key, value)
                changed.append(key)
        if changed:
            self.touch(operator_id, operator_name, now)
        return changed

    def touch(self, operator_id: str, operator_name: str, now: dt.datetime) -> None:
        self.updated_at = now
        self.updated_by = operator_id
        self.updated_by_name = operator_name

    def change_status(self, target: str, *, operator_id: str, operator_name: str,
                      now: dt.datetime) -> str | None:
        """Move along the status state machine; returns the previous status, or ``None``
        when nothing changed."""
        if not rules.transition_allowed(self.status, target):
            raise TransitionNotAllowed(current=self.status, target=target)
        if self.status == target:
            return None
        previous = self.status
        self.status = target
        self.status_changed_at = now
        self.status_changed_by = operator_id
        self.status_changed_by_name = operator_name
        self.touch(operator_id, operator_name, now)
        return previous

    def check_deletable(self) -> None:
        """Seed 001 §1.3: no delete while the customer owes money or has orders not yet
        completed or cancelled."""
        if self.owes_money:
            raise CustomerHasDebt(amount=rules.debt(self.current_balance))
        if self.order_summary.open_orders > 0:
            raise CustomerHasOpenOrders(count=self.order_summary.open_orders)

    def soft_delete(self, *, operator_id: str, operator_name: str, now: dt.datetime) -> None:
        self.check_deletable()
        self.deleted_at = now
        self.deleted_by = operator_id
        self.touch(operator_id, operator_name, now)

    def set_balance(self, new_balance: Decimal, now: dt.datetime) -> Decimal:
        """Returns the change; keeps ``debt_since`` (when the current debt began)."""
        old = Decimal(self.current_balance)
        new = Decimal(new_balance)
        if new < 0 and (old >= 0 or self.debt_since is None):
            self.debt_since = now
        elif new >= 0:
            self.debt_since = None
        if new > old:
            self.last_payment_date = now.date()
        self.current_balance = new
        return new - old


def new_customer(factory_id: str, fields: dict, *, operator_id: str, operator_name: str,
                 now: dt.datetime) -> Customer:
    """A customer as created (seed 001 §1.1): the given fields (``None`` = the default),
    the defaults, a generated customer code when none is given (seed 003), and an opening
    debt dated ``now``."""
    unknown = set(fields) - CREATION_FIELDS
    if unknown:
        raise ValueError(f"not creatable: {sorted(unknown)}")
    # Every new customer sets the same columns (absent ones to NULL), so that a batch of
    # them goes to the database as one multi-row INSERT.
    values = {key: None for key in CREATION_FIELDS if key not in DEFAULTS}
    values.update((key, value) for key, value in fields.items() if value is not None)
    if not values.get("customer_code"):
        values["customer_code"] = rules.generate_customer_code(values.get("source"), now.date())
    customer = Customer(factory_id=factory_id, created_at=now, updated_at=now,
                        created_by=operator_id, created_by_name=operator_name,
                        updated_by=operator_id, updated_by_name=operator_name,
                        deleted_at=None, debt_since=None, last_payment_date=None, orders=None, **values)
    if customer.owes_money:
        customer.debt_since = now
    return customer
