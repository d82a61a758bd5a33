"""The customer aggregate and its neighbours as plain classes (mapped onto tables by
``adapters.orm``). Methods enforce the rules; they never touch the database."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm_common.errors import Conflict, ValidationError

from . import groups, rules

# Fields a caller may write through the internal API (system fields excluded).
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
# Customer fields copied into projects and contracts (seed 004 §4.2).
SYNCED_FIELDS = frozenset({"name", "primary_contact_name", "primary_contact_phone"})


class Company:
    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)


class CustomerGroup:
    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)

    def check_new_members(self, requested, domains_by_id) -> list[int]:
        """The member ids to store (each once), or the reason the set is refused: unknown
        customers (400), customers of another business domain or more than ``max_member``
        (409). ``domains_by_id``: customer id -> business domain, for those found."""
        check = groups.check_membership(self.business_domain, self.max_member, requested, domains_by_id)
        if check.missing:
            ids = ", ".join(map(str, check.missing))
            raise ValidationError(f"客户不存在或已被删除: {ids}", error_code="CUSTOMER_NOT_FOUND",
                                  errors={"customer_ids": [f"客户不存在或已被删除: {ids}"]})
        if check.foreign:
            ids = ", ".join(map(str, check.foreign))
            msg = f"以下客户不属于业务域 {self.business_domain}: {ids}"
            raise Conflict(msg, error_code="CUSTOMER_DOMAIN_MISMATCH", errors={"customer_ids": [msg]})
        if check.over_limit:
            msg = f"分组最多 {check.limit} 个成员，本次提交 {len(groups.unique_ids(requested))} 个"
            raise Conflict(msg, error_code="GROUP_MEMBER_LIMIT_EXCEEDED", errors={"customer_ids": [msg]})
        return groups.unique_ids(requested)


class Customer:
    def __init__(self, **fields):
        fields.setdefault("status", "active")
        fields.setdefault("credit_limit", Decimal(0))
        fields.setdefault("current_balance", Decimal(0))
        fields.setdefault("payment_terms", 30)
        fields.setdefault("rating", 3)
        fields.setdefault("business_domain", "DEFAULT")
        fields.setdefault("source", "manual")
        fields.setdefault("viewing_count", 0)
        fields.setdefault("total_commission", Decimal(0))
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
    def available_credit(self) -> Decimal:
        return rules.available_credit(self.credit_limit, self.current_balance)

    @property
    def credit_utilization(self) -> Decimal | None:
        return rules.credit_utilization(self.credit_limit, self.current_balance)

    @property
    def owes_money(self) -> bool:
        return Decimal(self.current_balance) < 0

    def overdue_days(self, now: dt.datetime) -> int:
        return rules.overdue_days(self.current_balance, self.debt_since, self.payment_terms, now)

    def is_overdue(self, now: dt.datetime) -> bool:
        return rules.is_overdue(self.current_balance, self.debt_since, self.payment_terms, now)

    def risk_level(self, now: dt.datetime) -> str:
        return rules.risk_level(self.rating, self.credit_limit, self.current_balance, self.overdue_days(now))

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
        try:
            rules.check_status_transition(self.status, target)
        except rules.TransitionNotAllowed as exc:
            raise Conflict(str(exc), error_code="STATUS_TRANSITION_NOT_ALLOWED",
                           errors={"status": [str(exc)]}) from exc
        if self.status == target:
            return None
        previous = self.status
        self.status = target
        self.status_changed_at = now
        self.status_changed_by = operator_id
        self.status_changed_by_name = operator_name
        self.touch(operator_id, operator_name, now)
        return previous

    def soft_delete(self, *, operator_id: str, operator_name: str, now: dt.datetime) -> None:
        if self.owes_money:
            amount = rules.debt(self.current_balance)
            raise Conflict(f"客户存在欠款 {amount}，不能删除", error_code="CUSTOMER_HAS_DEBT",
                           errors={"current_balance": [f"客户存在欠款 {amount}，不能删除"]})
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
