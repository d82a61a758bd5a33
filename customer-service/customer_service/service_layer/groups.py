"""Seed 003 ManageCustomerGroupUseCase: customer groups within one business domain and
their member sets (replaced as a whole: DELETE + INSERT in one transaction)."""
from __future__ import annotations

import math

from sqlalchemy.exc import IntegrityError

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import Conflict, NotFound
from crm_common.logs import bind, get_logger

from ..domain.model import CustomerGroup
from .customers import default_domain
from .unit_of_work import CustomerUnitOfWork

log = get_logger("customer.groups")
DUPLICATE_GROUP = "分组名称已存在"


def _duplicate() -> Conflict:
    return Conflict(DUPLICATE_GROUP, error_code="GROUP_DUPLICATED", errors={"name": [DUPLICATE_GROUP]})


def create_group(uow: CustomerUnitOfWork, ctx: RequestContext, data: dict) -> CustomerGroup:
    domain = data.get("business_domain") or default_domain(ctx)
    ctx.scope.require(domain)
    now = utcnow()
    with uow:
        if uow.groups.name_taken(ctx.factory_id, data["name"]):
            raise _duplicate()
        group = CustomerGroup(factory_id=ctx.factory_id, business_domain=domain, name=data["name"],
                              description=data.get("description"), max_member=data.get("max_member"),
                              version=1, created_at=now, updated_at=now, created_by=ctx.operator_id)
        uow.groups.add(group)
        try:
            uow.flush()
        except IntegrityError as exc:  # a concurrent create took the name
            raise _duplicate() from exc
        uow.commit()
    group.member_count = 0
    bind(groupId=group.id)
    log.info("group_created", group_id=group.id, business_domain=domain)
    return group


def _load(uow: CustomerUnitOfWork, ctx: RequestContext, group_id: int, *, for_update: bool = False) -> CustomerGroup:
    group = uow.groups.get(ctx.factory_id, group_id, ctx.scope, for_update=for_update)
    if group is None:
        raise NotFound("客户分组不存在", error_code="GROUP_NOT_FOUND")
    return group


def get_group(uow: CustomerUnitOfWork, ctx: RequestContext, group_id: int) -> CustomerGroup:
    """The group with its (live, visible) members."""
    with uow:
        group = _load(uow, ctx, group_id)
        group.members = uow.groups.members(group.id, ctx.scope)
        group.member_count = len(group.members)
    return group


def list_groups(uow: CustomerUnitOfWork, ctx: RequestContext, *, business_domain: str | None,
                keyword: str | None, page: int, page_size: int) -> dict:
    with uow:
        items, total = uow.groups.page(ctx.factory_id, ctx.scope, business_domain=business_domain,
                                       keyword=keyword, page=page, page_size=page_size)
        counts = uow.groups.member_counts([g.id for g in items], ctx.scope)
        for group in items:
            group.member_count = counts.get(group.id, 0)
    return {"items": items, "total": total, "page": page, "page_size": page_size,
            "total_pages": math.ceil(total / page_size) if total else 0}


def replace_members(uow: CustomerUnitOfWork, ctx: RequestContext, group_id: int,
                    customer_ids: list[int]) -> CustomerGroup:
    """Make ``customer_ids`` the group's whole member set. Refused (nothing changes) when a
    customer is unknown to the caller, belongs to another business domain, or the set
    exceeds ``max_member``."""
    bind(groupId=group_id)
    with uow:
        group = _load(uow, ctx, group_id, for_update=True)  # serialises concurrent replacements
        found = uow.customers.get_many(ctx.factory_id, set(customer_ids), ctx.scope)
        members = group.check_new_members(customer_ids, {cid: c.business_domain for cid, c in found.items()})
        previous = uow.groups.member_ids(group.id)
        uow.groups.replace_members(group.id, members, ctx.operator_id)
        group.version = (group.version or 1) + 1
        group.updated_at = utcnow()
        # Customer detail shows its groups: old and new members' cached views are stale.
        uow.touch_customers(ctx.factory_id, set(previous) | set(members))
        uow.commit()
    log.info("group_members_replaced", group_id=group_id, members=len(members))
    return get_group(uow, ctx, group_id)
