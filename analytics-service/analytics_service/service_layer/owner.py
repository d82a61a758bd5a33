"""The owner of customers, as analytics' handlers need it: customer-service, asked on behalf
of the caller (its token, tenant and business domains), because analytics' read model can
be a moment behind it. ``adapters/customer_service.py`` implements it over HTTP; tests
give a fake.

- ``customer(id)``: the customer as the caller may see it, or ``None`` (unknown, deleted,
  another tenant's or outside the caller's domains);
- ``order_eligibility(ids)``: per id, the owner's answer to "may this customer get a new
  order?", or ``None`` where the owner does not know the customer for this caller.

Both raise ``OwnerUnavailable`` when customer-service cannot answer in time: the caller
then gets 503 with ``Retry-After``, and nothing is written."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable, Protocol

from crm_common.errors import ServiceUnavailable

from ..domain.eligibility import Eligibility

RETRY_AFTER_SECONDS = 5


class OwnerUnavailable(RuntimeError):
    """customer-service did not answer usably (down, slow, 5xx, an answer of another shape)."""


@dataclass(frozen=True)
class OwnedCustomer:
    """What analytics reads of a customer its read model does not know yet."""
    id: int
    factory_id: str
    business_domain: str | None
    name: str | None
    rating: int
    status: str | None
    credit_limit: Decimal
    current_balance: Decimal
    overdue_days: int = 0     # seed 001 §7.2 as the owner counts it


class CustomerOwner(Protocol):
    def customer(self, customer_id: int) -> OwnedCustomer | None: ...

    def order_eligibility(self, customer_ids: Iterable[int]) -> dict[int, Eligibility | None]: ...


def unavailable(exc: OwnerUnavailable) -> ServiceUnavailable:
    """The 503 a caller gets (in its surface's envelope) when the owner cannot answer."""
    return ServiceUnavailable("客户服务暂不可用，无法确认客户状态，请稍后重试", error_code="CUSTOMER_SERVICE_UNAVAILABLE",
                              headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
