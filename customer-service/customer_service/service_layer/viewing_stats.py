"""What viewing records do to their customer (seed 002 统计信息自动计算 / 客户状态联动).

Runs inside the consumer's transaction (which also records the event id and the record's
version): keeps each record's latest contribution, recounts the customer from those
contributions and moves its lead status. A customer that changes gets its
``customer.updated`` through the same steps as any other change."""
from __future__ import annotations

from decimal import Decimal

from crm_common import logs

from ..domain import commands, lead_status
from ..domain.model import Customer
from . import customers
from .unit_of_work import CustomerUnitOfWork

log = logs.get_logger("customer.viewing_stats")


def record_viewing(cmd: commands.RecordViewing, uow: CustomerUnitOfWork) -> None:
    ctx = cmd.ctx
    with uow:
        previous = uow.viewings.customer_of(cmd.record_id)
        # Lock every customer this record touches, in id order (no deadlock with other writers).
        involved = sorted({cid for cid in (cmd.customer_id, previous) if cid is not None})
        locked = uow.customers.get_many(ctx.factory_id, involved, for_update=True)
        customer = locked.get(cmd.customer_id)
        if customer is None:
            log.warning("viewing_for_unknown_customer", record_id=cmd.record_id, customer_id=cmd.customer_id,
                        factory_id=ctx.factory_id)
            return
        now = uow.now()
        uow.viewings.save(cmd.record_id, customer_id=customer.id, factory_id=customer.factory_id,
                          commission=cmd.commission, viewing_status=cmd.viewing_status,
                          viewing_feedback=cmd.viewing_feedback, version=cmd.version, now=now)
        for cid in involved:
            target = locked.get(cid)
            if target is None:
                continue
            changed = _recount(uow, target)
            if target is customer:
                changed += _move_lead_status(target, cmd)
            if changed:
                target.touch(ctx.operator_id, ctx.operator_name, now)
                customers.emit(uow, ctx, target, "customer.updated", changed)
        uow.commit()


def _recount(uow: CustomerUnitOfWork, customer: Customer) -> list[str]:
    count, total = lead_status.viewing_totals(uow.viewings.commissions_of(customer.id))
    changed = []
    if customer.viewing_count != count:
        customer.viewing_count = count
        changed.append("viewing_count")
    if Decimal(customer.total_commission or 0) != total:
        customer.total_commission = total
        changed.append("total_commission")
    return changed


def _move_lead_status(customer: Customer, cmd: commands.RecordViewing) -> list[str]:
    target = lead_status.status_after_viewing(customer.lead_status, viewing_status=cmd.viewing_status,
                                              viewing_feedback=cmd.viewing_feedback)
    if target is None or target == customer.lead_status:
        return []
    customer.lead_status = target
    return ["lead_status"]
