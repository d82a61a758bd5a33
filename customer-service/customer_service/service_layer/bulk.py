"""Bulk create / update / soft-delete of customers (seed 000).

Each record succeeds or fails alone: a failed record leaves no row and no event, and the
successes of one request commit together with their events. Updates and deletes run one
savepoint per record. Creates check the batch's names in one query and insert the
survivors in one savepoint; when the database still refuses (a concurrent batch took a
name: the unique index settles races) they are retried one savepoint each, so each loser
fails alone. Records go in a fixed lock order (names, ids) so that concurrent batches
cannot deadlock. A dry run executes the same code and rolls back. With an
``Idempotency-Key`` the response is stored in the same transaction and replayed for the
same request."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy.exc import IntegrityError, OperationalError

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError, Forbidden, NotFound
from crm_common.logs import get_logger

from ..domain import bulk as rules
from ..domain.model import Customer
from . import idempotency
from .customers import (
    DUPLICATE_NAME_MESSAGE,
    add_customer,
    apply_update,
    emit_customer_event,
    load_customer,
    new_customer,
    record_status_change,
    remove_customer,
)
from .unit_of_work import CustomerUnitOfWork

log = get_logger("customer.bulk")
Render = Callable[[Customer], dict]
RETRYABLE_PGCODES = {"40P01", "40001", "55P03"}  # deadlock, serialization, lock timeout


@dataclass
class BulkRecord:
    """One record as the caller sent it (echoed back on failure) and what validation made
    of it: ``fields`` to apply, or the field ``errors`` that already fail it."""
    raw: dict
    fields: dict | None = None
    errors: dict | None = None
    id: int | None = None


@dataclass
class BulkReport:
    status: int
    data: dict
    replayed: bool = False
    dry_run: bool = False


@dataclass
class _Outcome:
    done: dict = field(default_factory=dict)     # index -> rendered success
    failed: dict = field(default_factory=dict)   # index -> failure entry


class _RecordFailed(Exception):
    def __init__(self, errors: dict[str, list[str]], message: str):
        super().__init__(message)
        self.errors = errors
        self.message = message


def _errors_of(exc: AppError, field_name: str) -> dict[str, list[str]]:
    if exc.errors:
        return {str(k): [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in exc.errors.items()}
    if isinstance(exc, Forbidden):
        return {"business_domain": [exc.message]}
    return {field_name: [exc.message]}


def _attempt(uow: CustomerUnitOfWork, work: Callable[[], Customer | None], field_name: str):
    """Run one record in a savepoint; business errors and lock conflicts fail it alone."""
    try:
        with uow.savepoint():
            return work()
    except NotFound as exc:
        raise _RecordFailed({field_name: [exc.message]}, exc.message) from exc
    except AppError as exc:
        raise _RecordFailed(_errors_of(exc, field_name), exc.message) from exc
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) in RETRYABLE_PGCODES:
            log.warning("bulk_record_lock_conflict", pgcode=exc.orig.pgcode)
            raise _RecordFailed({field_name: [rules.RETRY_LATER]}, rules.RETRY_LATER) from exc
        raise


def _execute(uow: CustomerUnitOfWork, ctx: RequestContext, operation: Callable[[], tuple[int, dict]], *,
             dry_run: bool, request: idempotency.IdempotentRequest | None) -> BulkReport:
    if request is not None and not dry_run:
        idempotency.purge_expired(uow)
    with uow:
        if request is not None and not dry_run:
            stored = idempotency.claim(uow, ctx, request)
            if stored is not None:
                return BulkReport(stored.status, stored.data, replayed=True)
        status, data = operation()
        if dry_run:
            data["dry_run"] = True
            return BulkReport(status, data, dry_run=True)  # leaving without commit rolls back
        if request is not None:
            idempotency.remember(uow, ctx, request, status, data)
        uow.commit()
    log.info("bulk_done", status=status, **{k: v for k, v in data.items() if k.endswith("_count")})
    return BulkReport(status, data)


def _failure(record: BulkRecord, errors: dict) -> dict:
    return {"data": record.raw, "errors": errors}


def _create_together(uow: CustomerUnitOfWork, ctx: RequestContext, candidates: list[tuple[int, Customer]]) -> bool:
    """The fast path: every candidate in one savepoint, one flush (multi-row insert), one
    event each. ``False`` when the database refused (a concurrent request took a name or a
    code meanwhile): the savepoint is rolled back and nothing of it remains."""
    try:
        with uow.savepoint():
            for _, customer in candidates:
                customer.company = None
                uow.customers.add(customer)
            uow.flush()
            for _, customer in candidates:
                emit_customer_event(uow, customer, "customer.created", ctx, changed=())
        return True
    except IntegrityError:
        return False
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) in RETRYABLE_PGCODES:
            return False
        raise


def bulk_create(uow: CustomerUnitOfWork, ctx: RequestContext, records: list[BulkRecord], *,
                render: Render, dry_run: bool = False,
                request: idempotency.IdempotentRequest | None = None) -> BulkReport:
    """Create each valid record; a name already taken (also earlier in the same batch or
    by a concurrent batch) fails that record with 客户名称已存在.

    Names are checked for the whole batch in one query and the survivors inserted together;
    only when the database still refuses (a race the unique index settles) are they
    retried one savepoint each, where each loser fails alone."""
    def operation():
        out = _Outcome()
        order = rules.processing_order(records, lambda r: (r.fields or {}).get("name") if not r.errors else None)
        taken = uow.customers.names_taken(ctx.factory_id, (records[i].fields["name"] for i in order
                                                           if not records[i].errors))
        candidates: list[tuple[int, Customer]] = []
        now = utcnow()
        for index in order:
            record = records[index]
            if record.errors:
                out.failed[index] = _failure(record, record.errors)
                continue
            name = record.fields["name"]
            if name in taken:  # in the database, or earlier in this batch
                out.failed[index] = _failure(record, {"name": [DUPLICATE_NAME_MESSAGE]})
                continue
            taken.add(name)
            try:
                candidates.append((index, new_customer(ctx, record.fields, now)))  # domain check
            except AppError as exc:
                out.failed[index] = _failure(record, _errors_of(exc, "name"))
        if candidates and not _create_together(uow, ctx, candidates):
            log.info("bulk_create_conflict_retry_one_by_one", records=len(candidates))
            for index, _ in candidates:
                record = records[index]
                try:
                    customer = _attempt(uow, lambda: add_customer(uow, ctx, record.fields), "name")
                except _RecordFailed as failed:
                    out.failed[index] = _failure(record, failed.errors)
                    continue
                out.done[index] = render(customer)
        else:
            for index, customer in candidates:
                out.done[index] = render(customer)
        return rules.batch_status(len(out.done), len(out.failed), 201), {
            "created_count": len(out.done), "failed_count": len(out.failed),
            "created_customers": [out.done[i] for i in sorted(out.done)],
            "failed_customers": [out.failed[i] for i in sorted(out.failed)]}
    return _execute(uow, ctx, operation, dry_run=dry_run, request=request)


def _update_one(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, fields: dict) -> Customer:
    changes = dict(fields)
    status = changes.pop("status", None)
    customer = load_customer(uow, ctx, customer_id, for_update=True)
    if status is not None:
        previous = customer.change_status(status, operator_id=ctx.operator_id,
                                          operator_name=ctx.operator_name, now=utcnow())
        if previous is not None:
            record_status_change(uow, ctx, customer, previous, reason=None)
            emit_customer_event(uow, customer, "customer.updated", ctx, ["status"])
    if changes:
        apply_update(uow, ctx, customer, changes, {"auto_sync": True})
    return customer


def bulk_update(uow: CustomerUnitOfWork, ctx: RequestContext, records: list[BulkRecord], *,
                render: Render, dry_run: bool = False,
                request: idempotency.IdempotentRequest | None = None) -> BulkReport:
    """Update each record by ``id`` (tenant and business-domain scoped: a customer the
    caller cannot see is 客户不存在或已被删除); ``status`` follows the state machine."""
    def operation():
        out = _Outcome()
        for index in rules.processing_order(records, lambda r: r.id):
            record = records[index]
            if record.errors:
                out.failed[index] = _failure(record, record.errors)
                continue
            try:
                customer = _attempt(uow, lambda: _update_one(uow, ctx, record.id, record.fields), "id")
            except _RecordFailed as failed:
                out.failed[index] = _failure(record, failed.errors)
                continue
            out.done[index] = render(customer)
        return rules.batch_status(len(out.done), len(out.failed), 200), {
            "updated_count": len(out.done), "failed_count": len(out.failed),
            "updated_customers": [out.done[i] for i in sorted(out.done)],
            "failed_customers": [out.failed[i] for i in sorted(out.failed)]}
    return _execute(uow, ctx, operation, dry_run=dry_run, request=request)


def _delete_one(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int) -> Customer:
    customer = load_customer(uow, ctx, customer_id, for_update=True)
    remove_customer(uow, ctx, customer)  # refuses customers that owe money
    return customer


def bulk_delete(uow: CustomerUnitOfWork, ctx: RequestContext, ids: list[int], *, dry_run: bool = False,
                request: idempotency.IdempotentRequest | None = None) -> BulkReport:
    """Soft-delete each id; one that is unknown, already deleted or owes money fails alone."""
    def operation():
        deleted, failed = {}, {}
        for index in rules.processing_order(ids, lambda i: i):
            customer_id = ids[index]
            try:
                _attempt(uow, lambda: _delete_one(uow, ctx, customer_id), "id")
            except _RecordFailed as exc:
                failed[index] = {"id": customer_id, "error": exc.message}
                continue
            deleted[index] = customer_id
        return rules.batch_status(len(deleted), len(failed), 200), {
            "deleted_count": len(deleted), "failed_count": len(failed),
            "deleted_ids": [deleted[i] for i in sorted(deleted)],
            "failed_ids": [failed[i] for i in sorted(failed)]}
    return _execute(uow, ctx, operation, dry_run=dry_run, request=request)
