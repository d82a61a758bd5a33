"""Batches of customers, record by record: seed 000's bulk create / update / soft-delete and
seed 001's Excel import. Each record runs the same steps as a single create, update or
delete (``customers``) and succeeds or fails alone: a failed record leaves no row, no event
and no audit row, and the successes commit together with theirs.

Creates check the batch's names and codes in one query and insert the survivors together
(one savepoint per chunk, one multi-row INSERT); when the database still refuses (a
concurrent writer took a name or code: the unique indexes settle races) that chunk is
retried one savepoint per record, so each loser fails alone. Records go in a fixed lock
order (names, ids) so that concurrent batches cannot deadlock.

The bulk API answers through ``respond(outcome) -> (status, data)``, called inside the
transaction: a dry run then rolls back, and with an ``Idempotency-Key`` the answer is stored
with the writes and replayed for the same request."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Hashable, Mapping

from sqlalchemy.exc import OperationalError

from crm_common.context import RequestContext
from crm_common.errors import AppError
from crm_common.logs import get_logger

from ..domain import bulk as rules
from ..domain import commands
from ..domain.errors import ConcurrentWrite, DomainError
from ..domain.model import Customer
from . import customers, idempotency
from .unit_of_work import CustomerUnitOfWork, UniqueViolation

log = get_logger("customer.bulk")
RETRYABLE_PGCODES = {"40P01", "40001", "55P03"}  # deadlock, serialization, lock timeout
CREATE_CHUNK = 200


@dataclass
class Outcome:
    """Per record (keyed as the command keys them): what succeeded, and why others failed."""
    done: dict = field(default_factory=dict)      # key -> Customer (create, update) or customer id (delete)
    failed: dict = field(default_factory=dict)    # key -> the refusal (an AppError)


@dataclass(frozen=True)
class Reply:
    status: int
    data: dict
    replayed: bool = False


Respond = Callable[[Outcome], "tuple[int, dict]"]


def _lock_conflict(exc: OperationalError) -> bool:
    return getattr(exc.orig, "pgcode", None) in RETRYABLE_PGCODES


def attempt(uow: CustomerUnitOfWork, work: Callable[[], object]):
    """Run one record in a savepoint: a refusal or a lock conflict fails it alone."""
    try:
        with uow.savepoint():
            return work()
    except OperationalError as exc:
        if _lock_conflict(exc):
            log.warning("bulk_record_lock_conflict", pgcode=exc.orig.pgcode)
            raise ConcurrentWrite() from exc
        raise


def create_each(uow: CustomerUnitOfWork, ctx: RequestContext, records: Mapping[Hashable, Mapping]) -> Outcome:
    """Create each record (fields by key) inside an open unit of work, each alone."""
    out = Outcome()
    keys = list(records)
    order = [keys[i] for i in rules.processing_order(keys, lambda k: records[k].get("name"))]
    drafts: dict[Hashable, Customer] = {}
    for key in order:
        try:
            drafts[key] = customers.draft(uow, ctx, records[key])
        except AppError as exc:  # a refusal, or a business domain the caller may not use
            out.failed[key] = exc
    refused = customers.identity_refusals(uow, ctx, drafts)
    out.failed.update(refused)
    ready = [k for k in drafts if k not in refused]
    for start in range(0, len(ready), CREATE_CHUNK):
        chunk = ready[start:start + CREATE_CHUNK]
        try:
            with uow.savepoint():
                customers.insert(uow, ctx, [drafts[k] for k in chunk])
            out.done.update((k, drafts[k]) for k in chunk)
            continue
        except (UniqueViolation, DomainError):
            pass
        except OperationalError as exc:
            if not _lock_conflict(exc):
                raise
        log.info("bulk_create_conflict_retry_one_by_one", records=len(chunk))
        for key in chunk:
            try:
                out.done[key] = attempt(uow, lambda key=key: _create_one(uow, ctx, records[key]))
            except AppError as exc:
                out.failed[key] = exc
    return out


def _create_one(uow: CustomerUnitOfWork, ctx: RequestContext, fields: Mapping) -> Customer:
    customer = customers.draft(uow, ctx, fields)
    refusal = customers.identity_refusals(uow, ctx, {0: customer}).get(0)
    if refusal is not None:
        raise refusal
    customers.insert(uow, ctx, [customer])
    return customer


def each(uow: CustomerUnitOfWork, items: Mapping[Hashable, object], work: Callable[[object], object],
         sort_key: Callable[[object], object]) -> Outcome:
    """``work(item)`` for each item, alone, in lock order."""
    out = Outcome()
    keys = list(items)
    for index in rules.processing_order(keys, lambda k: sort_key(items[k])):
        key = keys[index]
        try:
            out.done[key] = attempt(uow, lambda key=key: work(items[key]))
        except AppError as exc:
            out.failed[key] = exc
    return out


# --- the bulk API (seed 000) ---------------------------------------------------------------

def bulk_create(cmd: commands.BulkCreateCustomers, uow: CustomerUnitOfWork, respond: Respond) -> Reply:
    """Create each record; a name or code already taken (also by an earlier record of the
    request, or by a concurrent request) fails that record."""
    return _run(cmd, uow, respond, lambda: create_each(uow, cmd.ctx, cmd.customers))


def bulk_update(cmd: commands.BulkUpdateCustomers, uow: CustomerUnitOfWork, respond: Respond) -> Reply:
    """Update each customer by id (a customer the caller cannot see is not found); ``status``
    follows the state machine."""
    ctx = cmd.ctx

    def update(item):
        customer_id, changes = item
        customer = customers.load(uow, ctx, customer_id)
        customers.change(uow, ctx, customer, changes, options={"auto_sync": True})
        return customer
    return _run(cmd, uow, respond, lambda: each(uow, cmd.customers, update, sort_key=lambda item: item[0]))


def bulk_delete(cmd: commands.BulkDeleteCustomers, uow: CustomerUnitOfWork, respond: Respond) -> Reply:
    """Soft-delete each id; one that is unknown, already deleted, owes money or has open
    orders fails alone."""
    ctx = cmd.ctx

    def delete(customer_id):
        customers.remove(uow, ctx, customers.load(uow, ctx, customer_id))
        return customer_id
    return _run(cmd, uow, respond, lambda: each(uow, cmd.ids, delete, sort_key=lambda customer_id: customer_id))


def _run(cmd, uow: CustomerUnitOfWork, respond: Respond, operation: Callable[[], Outcome]) -> Reply:
    key = None if cmd.dry_run else cmd.idempotency  # a dry run neither consults nor records a key
    if key is not None:
        idempotency.purge_expired(uow)
    with uow:
        if key is not None:
            stored = idempotency.claim(uow, cmd.ctx, key)
            if stored is not None:
                return Reply(stored.status, stored.data, replayed=True)
        status, data = respond(operation())
        if cmd.dry_run:
            return Reply(status, data)  # leaving without commit rolls everything back
        if key is not None:
            idempotency.remember(uow, cmd.ctx, key, status, data)
        uow.commit()
    log.info("bulk_done", status=status, **{k: v for k, v in data.items() if k.endswith("_count")})
    return Reply(status, data)


# --- the Excel import (seed 001 §6.1) -----------------------------------------------------------

def import_rows(cmd: commands.ImportSheetRows, uow: CustomerUnitOfWork) -> Outcome:
    """Every good row is imported with its event and audit rows even when other rows fail;
    ``Outcome`` keyed by row number."""
    with uow:
        outcome = create_each(uow, cmd.ctx, cmd.rows)
        uow.commit()
    return outcome
