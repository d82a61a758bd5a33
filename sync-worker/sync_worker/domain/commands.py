"""What callers ask sync-worker to do, as plain data: one command per business operation,
whichever way it arrives (an /api/v1 request, a customer event). Each is handled by one
function of the service layer, ``handler(cmd, uow, ...)``.

``ctx`` says who asks, in which tenant and which business domains (``RequestContext``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .model import CustomerInfo

if TYPE_CHECKING:  # annotations only: the domain imports no framework
    from crm_common.context import RequestContext
    from crm_common.paging import Cursor


class _Keep:
    """A field of an update that was not given (``None`` may be a value: no project)."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP = _Keep()


@dataclass(frozen=True)
class Paging:
    """Offset pages (``page``, ``page_size``) or, with ``updated_since`` / ``cursor``, the
    keyset pages of incremental sync (CONTRACT §4)."""
    page: int = 1
    page_size: int = 20
    updated_since: dt.datetime | None = None
    cursor: Cursor | None = None

    @property
    def incremental(self) -> bool:
        return self.updated_since is not None or self.cursor is not None


# --- projects ------------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateProject:
    ctx: RequestContext
    name: str
    customer_id: int


@dataclass(frozen=True)
class UpdateProject:
    ctx: RequestContext
    project_id: int
    name: str | None = None
    customer_id: int | None = None
    expected_version: int | None = None


@dataclass(frozen=True)
class GetProject:
    ctx: RequestContext
    project_id: int


@dataclass(frozen=True)
class ListProjects:
    ctx: RequestContext
    paging: Paging
    customer_id: int | None = None
    keyword: str | None = None


# --- contracts -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CreateContract:
    ctx: RequestContext
    contract_no: str
    customer_id: int
    project_id: int | None = None


@dataclass(frozen=True)
class UpdateContract:
    ctx: RequestContext
    contract_id: int
    contract_no: str | None = None
    customer_id: int | None = None
    project_id: int | None | _Keep = KEEP
    expected_version: int | None = None


@dataclass(frozen=True)
class GetContract:
    ctx: RequestContext
    contract_id: int


@dataclass(frozen=True)
class ListContracts:
    ctx: RequestContext
    paging: Paging
    customer_id: int | None = None
    project_id: int | None = None
    keyword: str | None = None


# --- synchronisation (seed 004) ------------------------------------------------------------------

@dataclass(frozen=True)
class SyncCustomer:
    """Manual sync of one customer (seed 004 §3.2)."""
    ctx: RequestContext
    customer_id: int


@dataclass(frozen=True)
class SyncCustomers:
    """Manual sync of up to 100 customers, each on its own (seed 004 §7.3)."""
    ctx: RequestContext
    customer_ids: tuple[int, ...]


@dataclass(frozen=True)
class SyncProjectFromContract:
    ctx: RequestContext
    project_id: int
    contract_id: int | None = None


@dataclass(frozen=True)
class ListHistory:
    ctx: RequestContext
    paging: Paging
    customer_id: int | None = None
    trigger: str | None = None
    outcome: str | None = None


@dataclass(frozen=True)
class ApplyCustomerChange:
    """A ``customer.*`` event, as the consumer hands it over: the customer's state after
    the change and what the writer said about it."""
    customer: CustomerInfo
    event_type: str
    event_id: str
    customer_version: int
    changed_fields: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)
    occurred_at: dt.datetime | None = None
    trace_id: str | None = None
    actor_id: str | None = None
    actor_name: str | None = None
