"""What viewing records do to their customer (seed 002 统计信息自动计算 / 客户状态联动).

Handler of the ``customer-service.viewing-stats`` consumer: runs inside the consumer's
transaction (which also records the event id and the record's version), keeps each
record's latest contribution in ``viewing_facts``, recounts the customer from those facts
and moves its lead status. Every customer change writes ``customer.updated`` to the
outbox in that same transaction."""
from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common import logs
from crm_common.db import utcnow
from crm_common.events import json_dumps, make_event

from ..adapters import orm
from ..adapters.repository import CustomerRepository
from ..domain import lead_status
from ..domain.model import Customer
from .customers import PRODUCER, customer_state

log = logs.get_logger("customer.viewing_stats")

VIEWING_EVENTS = frozenset({"viewing.recorded", "viewing.updated"})


def apply_viewing_event(session: Session, event: dict) -> None:
    if event["event_type"] not in VIEWING_EVENTS:
        return
    data = event["data"]
    record_id = str(event["aggregate_id"])
    factory_id = event.get("factory_id") or data.get("factory_id")
    customer_id = data.get("customer_id")
    customers = CustomerRepository(session)
    facts = orm.viewing_facts

    previous_customer_id = session.execute(
        sa.select(facts.c.customer_id).where(facts.c.viewing_record_id == record_id)).scalar()
    # Lock every customer this record touches, in id order (no deadlock with other writers).
    involved = sorted({cid for cid in (customer_id, previous_customer_id) if cid is not None})
    locked = customers.get_many(factory_id, involved, for_update=True) if factory_id else {}
    customer = locked.get(customer_id)
    if customer is None:
        log.warning("viewing_for_unknown_customer", record_id=record_id, customer_id=customer_id,
                    factory_id=factory_id)
        return

    _store_fact(session, record_id, customer, data, int(event["aggregate_version"]))

    actor = event.get("actor") or {}
    for cid in involved:
        target = locked.get(cid)
        if target is None:
            continue
        changed = _recount(session, target)
        if target is customer:
            changed += _move_lead_status(target, data)
        if changed:
            target.touch(actor.get("sub") or "system", actor.get("name") or "system", utcnow())
            session.flush()  # bumps the version the event carries
            _add_customer_updated(session, target, changed, event)


def _store_fact(session: Session, record_id: str, customer: Customer, data: dict, version: int) -> None:
    facts = orm.viewing_facts
    values = {
        "customer_id": customer.id,
        "factory_id": customer.factory_id,
        "commission": Decimal(str(data.get("commission") or 0)),
        "viewing_status": data.get("viewing_status"),
        "viewing_feedback": data.get("viewing_feedback"),
        "version": version,
        "updated_at": utcnow(),
    }
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(facts).values(viewing_record_id=record_id, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=[facts.c.viewing_record_id], set_=values))


def _recount(session: Session, customer: Customer) -> list[str]:
    facts = orm.viewing_facts
    commissions = session.execute(
        sa.select(facts.c.commission).where(facts.c.customer_id == customer.id)).scalars().all()
    count, total = lead_status.viewing_totals(commissions)
    changed = []
    if customer.viewing_count != count:
        customer.viewing_count = count
        changed.append("viewing_count")
    if Decimal(customer.total_commission or 0) != total:
        customer.total_commission = total
        changed.append("total_commission")
    return changed


def _move_lead_status(customer: Customer, data: dict) -> list[str]:
    target = lead_status.status_after_viewing(customer.lead_status, viewing_status=data.get("viewing_status"),
                                              viewing_feedback=data.get("viewing_feedback"))
    if target is None or target == customer.lead_status:
        return []
    customer.lead_status = target
    return ["lead_status"]


def _add_customer_updated(session: Session, customer: Customer, changed: list[str], cause: dict) -> None:
    event = make_event(
        event_type="customer.updated", producer=PRODUCER, aggregate_type="customer",
        aggregate_id=customer.id, aggregate_version=customer.version, factory_id=customer.factory_id,
        trace_id=cause.get("trace_id"), actor=cause.get("actor") or {}, changed_fields=changed,
        data=customer_state(customer))
    session.execute(sa.insert(orm.outbox).values(
        event_id=event["event_id"], event_type=event["event_type"], aggregate_type=event["aggregate_type"],
        aggregate_id=event["aggregate_id"], aggregate_version=event["aggregate_version"],
        payload=json_dumps(event), created_at=utcnow(), attempts=0))
