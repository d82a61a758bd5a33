"""Customer detail through the optional read cache. Writes never touch the cache here:
the unit of work marks touched customers stale after each commit."""
from __future__ import annotations

from crm_common.context import RequestContext
from crm_common.errors import NotFound

from ..adapters.cache import CustomerCache
from ..domain.model import Customer
from .customers import NOT_FOUND_MESSAGE, get_customer, load_detail, visible_groups
from .unit_of_work import CustomerUnitOfWork


def customer_detail(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int,
                    cache: CustomerCache | None) -> Customer:
    """``get_customer`` with a cache in front. The key holds the factory; the business
    domain of a cached customer is checked against the caller's like the database query
    would, so a cached entry never shows a tenant or domain more than the database would."""
    if cache is None:
        return get_customer(uow, ctx, customer_id)
    lookup = cache.get(ctx.factory_id, customer_id)
    cached = lookup.customer
    if cached is not None:
        if cached.factory_id != ctx.factory_id or not ctx.scope.allows(cached.business_domain):
            raise NotFound(NOT_FOUND_MESSAGE, error_code="CUSTOMER_NOT_FOUND")
        cached.groups = visible_groups(ctx, cached.groups or [])
        return cached
    customer = load_detail(uow, ctx, customer_id)
    cache.fill(customer, lookup.stamp)  # skipped when a write invalidated it meanwhile
    customer.groups = visible_groups(ctx, customer.groups)
    return customer
