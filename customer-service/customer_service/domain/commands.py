"""Commands: every business operation of customer-service as one dataclass, whatever the
surface (``/api/v1``, ``/api/mobile``, ``/api/external``) or event that asks for it.

``ctx`` says who asks, in which tenant and business domains (``crm_common.context``);
field values use the model's names (``customer.py`` attributes), ``None`` for "not given"."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from crm_common.context import RequestContext

from .external_sync import ExternalOrigin


@dataclass(frozen=True)
class CreateCustomer:
    ctx: RequestContext
    fields: Mapping[str, Any]
    company: Mapping[str, Any] | None = None     # seed 003: upserted in the same transaction
    origin: ExternalOrigin | None = None         # seed 003: audited as an external import


@dataclass(frozen=True)
class SyncImportedCustomer:
    """Seed 003 / issue 21: a remote record imported before comes again (its changes)."""
    ctx: RequestContext
    customer_id: int
    fields: Mapping[str, Any]
    origin: ExternalOrigin
    company: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class ImportCustomers:
    """All or nothing (seed 001 §6.4): every customer is created, or none."""
    ctx: RequestContext
    customers: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class ImportSheetRows:
    """Each row stands or fails alone (seed 001 §6.1); ``rows`` maps the row's number in the
    sheet to its fields."""
    ctx: RequestContext
    rows: Mapping[int, Mapping[str, Any]]


@dataclass(frozen=True)
class UpdateCustomer:
    ctx: RequestContext
    customer_id: int
    changes: Mapping[str, Any]                   # editable fields, plus ``status`` and ``customer_code``
    expected_version: int | None = None          # If-Match
    auto_sync: bool = True                       # seed 004: copy into projects and contracts


@dataclass(frozen=True)
class ChangeStatus:
    ctx: RequestContext
    customer_id: int
    status: str
    reason: str | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class SetActive:
    """Seed 001 §3.1: ``isActive`` on the status state machine."""
    ctx: RequestContext
    customer_id: int
    active: bool
    expected_version: int | None = None


@dataclass(frozen=True)
class RateCustomer:
    ctx: RequestContext
    customer_id: int
    rating: int
    notes: str | None = None


@dataclass(frozen=True)
class SetCreditLimit:
    ctx: RequestContext
    customer_id: int
    credit_limit: Decimal


@dataclass(frozen=True)
class SetBalance:
    ctx: RequestContext
    customer_id: int
    balance: Decimal


@dataclass(frozen=True)
class DeleteCustomer:
    ctx: RequestContext
    customer_id: int
    expected_version: int | None = None


@dataclass(frozen=True)
class UpsertExternalCustomer:
    """Seed 002: the tenant's customer of the integrator's ``user_id``; blanks never erase."""
    ctx: RequestContext
    user_id: str
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class IdempotencyKey:
    key: str
    endpoint: str
    fingerprint: str


@dataclass(frozen=True)
class BulkCreateCustomers:
    ctx: RequestContext
    customers: Mapping[int, Mapping[str, Any]]     # index in the request -> fields (valid ones)
    dry_run: bool = False
    idempotency: IdempotencyKey | None = None


@dataclass(frozen=True)
class BulkUpdateCustomers:
    ctx: RequestContext
    customers: Mapping[int, tuple[int, Mapping[str, Any]]]  # index -> (customer id, changes)
    dry_run: bool = False
    idempotency: IdempotencyKey | None = None


@dataclass(frozen=True)
class BulkDeleteCustomers:
    ctx: RequestContext
    ids: Mapping[int, int]                          # index -> customer id
    dry_run: bool = False
    idempotency: IdempotencyKey | None = None


@dataclass(frozen=True)
class UpsertCompany:
    ctx: RequestContext
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class CreateGroup:
    ctx: RequestContext
    name: str
    business_domain: str | None = None
    description: str | None = None
    max_member: int | None = None


@dataclass(frozen=True)
class ReplaceGroupMembers:
    ctx: RequestContext
    group_id: int
    customer_ids: tuple[int, ...]


# --- from events ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RecordViewing:
    """Seed 002: a viewing record's latest state (``viewing.recorded`` / ``viewing.updated``)."""
    ctx: RequestContext
    record_id: str
    customer_id: int | None
    version: int
    commission: Decimal = Decimal(0)
    viewing_status: int | None = None
    viewing_feedback: int | None = None


@dataclass(frozen=True)
class RecordOrder:
    """An order's latest state (``order.recorded`` / ``order.updated`` of analytics-service)."""
    factory_id: str
    order_id: str
    customer_id: int
    status: str
    order_date: dt.date
    total_amount: Decimal
    version: int
