"""Which customer a project or contract belongs to, and what it looks like now.

Creating or relinking uses the latest known state (the snapshot kept from events); a
customer no event has told us about yet is asked from customer-service. Manual sync asks
customer-service first and falls back to the snapshot when it cannot answer."""
from __future__ import annotations

from typing import Callable

from crm_common.context import RequestContext
from crm_common.errors import NotFound, ServiceUnavailable

from ..adapters.customer_client import CustomerServiceUnavailable
from ..domain.model import CustomerInfo
from .unit_of_work import SyncUnitOfWork

# customer_id -> current state, or None when customer-service does not know it for this
# caller; raises CustomerServiceUnavailable when customer-service cannot answer.
FetchCustomer = Callable[[int], "CustomerInfo | None"]

SOURCE_EVENT, SOURCE_CUSTOMER_SERVICE, SOURCE_SNAPSHOT = "event", "customer-service", "snapshot"
CUSTOMER_NOT_FOUND = "客户不存在或已被删除"
UNKNOWN_WHILE_DOWN = "客户服务暂不可用，且本地没有该客户的信息"


def customer_not_found(customer_id: int) -> NotFound:
    return NotFound(f"客户 {customer_id} 不存在或已被删除", error_code="CUSTOMER_NOT_FOUND",
                    errors={"customer_id": [CUSTOMER_NOT_FOUND]})


# Who ``updated_by`` names on rows that sync-worker changed by itself (events, domain moves).
SYNC_OPERATOR = ("sync-worker", "客户信息自动同步")


def _visible(ctx: RequestContext, info: CustomerInfo | None) -> bool:
    """A live customer of the caller's tenant in one of its business domains (an unknown
    domain is in none but "every domain")."""
    if info is None or info.deleted or info.factory_id != ctx.factory_id:
        return False
    return ctx.scope.allows(info.business_domain)


def remember(uow: SyncUnitOfWork, info: CustomerInfo, *, source: str, event_id: str | None = None) -> bool:
    """Keep ``info`` as the customer's snapshot unless a newer version is known (inside the
    caller's transaction); True when it is now the newest. A customer that moved to another
    business domain takes its projects, contracts and history with it."""
    previous = uow.snapshots.get(info.factory_id, info.customer_id)
    newest = uow.snapshots.remember(info, source=source, event_id=event_id, now=uow.now())
    if newest and previous is not None and previous.business_domain != info.business_domain:
        now, domain = uow.now(), info.business_domain
        uow.projects.move_to_domain(info.factory_id, info.customer_id, domain, now=now, operator=SYNC_OPERATOR)
        uow.contracts.move_to_domain(info.factory_id, info.customer_id, domain, now=now, operator=SYNC_OPERATOR)
        uow.history.move_to_domain(info.factory_id, info.customer_id, domain)
    return newest


def require_visible_filter(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int | None) -> None:
    """A list filtered by a customer outside the caller's business domains is 404 (as the
    customer is), not an empty page that would confirm it exists; inside an open ``uow``."""
    if customer_id is None or ctx.scope.everything:
        return
    info = uow.snapshots.get(ctx.factory_id, customer_id)
    if info is not None and not ctx.scope.allows(info.business_domain):
        raise customer_not_found(customer_id)


def known_customer(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int,
                   fetch: FetchCustomer) -> CustomerInfo:
    """The latest known state of a customer of the caller's tenant (404 when none)."""
    with uow:
        info = uow.snapshots.get(ctx.factory_id, customer_id)
    if info is not None:
        if not _visible(ctx, info):
            raise customer_not_found(customer_id)
        return info
    try:
        info = fetch(customer_id)
    except CustomerServiceUnavailable as exc:
        raise ServiceUnavailable("客户服务暂不可用，且尚未收到该客户的信息，请稍后重试",
                                 error_code="CUSTOMER_SERVICE_UNAVAILABLE") from exc
    if not _visible(ctx, info):
        raise customer_not_found(customer_id)
    with uow:
        remember(uow, info, source=SOURCE_CUSTOMER_SERVICE)
        uow.commit()
    return info


def latest_for_copy(uow: SyncUnitOfWork, ctx: RequestContext, info: CustomerInfo) -> CustomerInfo:
    """Inside the open transaction that copies a customer's fields into a project or
    contract: the newest known state, its snapshot row share-locked until commit. A customer
    event applied meanwhile either committed first (and is what gets copied) or waits for
    this commit and then updates the new row too; copying ``info`` as read before this
    transaction could keep an older state forever."""
    latest = uow.snapshots.get(info.factory_id, info.customer_id, lock=True)
    if latest is None or latest.version < info.version:
        return info
    if not _visible(ctx, latest):
        raise customer_not_found(info.customer_id)
    return latest


def current_customer(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int,
                     fetch: FetchCustomer | None) -> tuple[CustomerInfo, str]:
    """(state, where it came from) for a manual sync: customer-service when it answers,
    else the snapshot. ``fetch=None`` goes straight to the snapshot."""
    if fetch is not None:
        try:
            info = fetch(customer_id)
        except CustomerServiceUnavailable:
            pass
        else:
            if not _visible(ctx, info):
                raise customer_not_found(customer_id)
            return info, SOURCE_CUSTOMER_SERVICE
    with uow:
        info = uow.snapshots.get(ctx.factory_id, customer_id)
    if info is None:
        raise ServiceUnavailable(UNKNOWN_WHILE_DOWN, error_code="CUSTOMER_SERVICE_UNAVAILABLE",
                                 errors={"customer_id": [UNKNOWN_WHILE_DOWN]})
    if not _visible(ctx, info):
        raise customer_not_found(customer_id)
    return info, SOURCE_SNAPSHOT
