"""Seed 003 ManageCustomerGroupUseCase: customer groups within one business domain and
their member sets (replaced as a whole: DELETE + INSERT in one transaction)."""
from __future__ import annotations

from crm_common.logs import bind, get_logger

from ..domain import commands, rules
from ..domain.errors import GroupNameTaken
from ..domain.model import CustomerGroup
from . import queries
from .unit_of_work import CustomerUnitOfWork, UniqueViolation

log = get_logger("customer.groups")


def create_group(cmd: commands.CreateGroup, uow: CustomerUnitOfWork) -> CustomerGroup:
    ctx = cmd.ctx
    domain = cmd.business_domain or rules.default_domain(ctx.scope)
    ctx.scope.require(domain)
    with uow:
        if uow.groups.name_taken(ctx.factory_id, cmd.name):
            raise GroupNameTaken()
        group = CustomerGroup(factory_id=ctx.factory_id, business_domain=domain, name=cmd.name,
                              description=cmd.description, max_member=cmd.max_member, version=1,
                              created_by=ctx.operator_id, deleted_at=None)
        uow.groups.add(group)
        try:
            uow.flush()
        except UniqueViolation as exc:  # a concurrent create took the name
            raise GroupNameTaken() from exc
        uow.commit()
    group.member_count = 0
    bind(groupId=group.id)
    log.info("group_created", group_id=group.id, business_domain=domain)
    return group


def replace_members(cmd: commands.ReplaceGroupMembers, uow: CustomerUnitOfWork) -> CustomerGroup:
    """Make ``customer_ids`` the group's whole member set. Refused (nothing changes) when a
    customer is unknown to the caller, belongs to another business domain, or the set
    exceeds ``max_member``."""
    ctx = cmd.ctx
    bind(groupId=cmd.group_id)
    with uow:
        group = queries.load_group(uow, ctx, cmd.group_id, for_update=True)  # serialises replacements
        found = uow.customers.get_many(ctx.factory_id, set(cmd.customer_ids), ctx.scope)
        members = group.check_new_members(cmd.customer_ids, {cid: c.business_domain for cid, c in found.items()})
        previous = uow.groups.member_ids(group.id)
        uow.groups.replace_members(group.id, members, ctx.operator_id)
        group.version = (group.version or 1) + 1
        # Customer detail shows its groups: old and new members' cached views are stale.
        uow.touch_customers(ctx.factory_id, set(previous) | set(members))
        uow.commit()
    log.info("group_members_replaced", group_id=cmd.group_id, members=len(members))
    return queries.group_detail(uow, ctx, cmd.group_id)
