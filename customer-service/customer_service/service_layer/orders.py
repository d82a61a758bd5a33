"""Order facts from analytics-service's order events, and what customer-service derives
from them per customer: open orders (no delete while any is open, seed 001 §1.3), the last
order date (the overdue rule of §7.2) and the order figures every tenant-API customer body
shows.

Runs inside the consumer's transaction, which applies each order's events once and in
version order (CONTRACT §5), so a redelivered or late event changes nothing."""
from __future__ import annotations

from crm_common import logs

from ..domain import commands
from ..domain.orders import OrderFact, summarise
from .unit_of_work import CustomerUnitOfWork

log = logs.get_logger("customer.orders")


def record_order(cmd: commands.RecordOrder, uow: CustomerUnitOfWork) -> None:
    """Keep the order's latest state and recount the summary of its customer (and of the
    customer it belonged to before, when an order moved). The customers' rows are locked
    first, in id order: a delete checking open orders and an order arriving for the same
    customer take turns."""
    with uow:
        previous = uow.orders.customer_of(cmd.factory_id, cmd.order_id)
        involved = sorted({cid for cid in (cmd.customer_id, previous) if cid is not None})
        locked = uow.customers.get_many(cmd.factory_id, involved, for_update=True, include_deleted=True)
        if cmd.customer_id not in locked:
            log.warning("order_for_unknown_customer", order_id=cmd.order_id, customer_id=cmd.customer_id,
                        factory_id=cmd.factory_id)
            return
        now = uow.now()
        uow.orders.save(cmd.factory_id, OrderFact(cmd.order_id, cmd.customer_id, cmd.status, cmd.order_date,
                                                  cmd.total_amount), cmd.version, now)
        for customer_id in (cid for cid in involved if cid in locked):
            uow.orders.save_summary(summarise(customer_id, cmd.factory_id, uow.orders.facts_of(customer_id)), now)
        uow.touch_customers(cmd.factory_id, involved)
        uow.commit()
