"""What callers ask viewing-service to do, as plain data: one command per operation,
whichever way it arrives (an /api/external request, a customer event, the internal
snapshot). Each is handled by one function of the service layer, ``handler(cmd, uow, ...)``.

``ctx`` says who asks, in which tenant and which business domains (``RequestContext``)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # annotations only: the domain imports no framework
    from crm_common.context import RequestContext
    from crm_common.paging import Cursor


@dataclass(frozen=True)
class RecordViewing:
    """带看记录录入: ``fields`` are the record's fields by model name, as given."""
    ctx: RequestContext
    user_id: str
    fields: dict


@dataclass(frozen=True)
class ListUserRecords:
    """用户带看记录查询: one user's records, newest viewing first, offset pages."""
    ctx: RequestContext
    user_id: str
    page: int = 1
    page_size: int = 20
    property_name: str | None = None
    viewing_status: int | None = None
    business_type: str | None = None
    viewer_name: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None


@dataclass(frozen=True)
class ListChangedRecords:
    """Incremental sync: the tenant's records changed at or after ``updated_since`` (or
    after ``cursor``), oldest change first, keyset pages."""
    ctx: RequestContext
    page_size: int = 20
    updated_since: dt.datetime | None = None
    cursor: Cursor | None = None


@dataclass(frozen=True)
class TakeSnapshot:
    """Every tenant's records in id order, for read-model rebuilds."""
    after_id: int = 0
    limit: int = 500


@dataclass(frozen=True)
class LearnCustomerDomain:
    """A ``customer.*`` event: the customer's business domain as of ``version``."""
    customer_id: int
    factory_id: str
    business_domain: str | None
    version: int
