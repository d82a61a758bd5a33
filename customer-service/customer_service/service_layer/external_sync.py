"""Seed 003 RecordExternalSyncUseCase: the external-sync audit of imports (written with
the import, or after its rollback when it failed)."""
from __future__ import annotations

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError
from crm_common.events import json_dumps
from crm_common.logs import get_logger

from ..domain.errors import AlreadyImported
from ..domain.external_sync import (  # noqa: F401 - the rules, for the handlers
    ENTITY_CUSTOMER,
    FAILED,
    SUCCESS,
    ExternalOrigin,
    adopt_origin,
    external_origin,
)
from .unit_of_work import CustomerUnitOfWork

log = get_logger("customer.external_sync")
MAX_PAYLOAD = 8000


def _payload(payload: dict | None) -> str | None:
    if payload is None:
        return None
    text = json_dumps(payload)
    return text if len(text) <= MAX_PAYLOAD else text[:MAX_PAYLOAD]


def _row(ctx: RequestContext, origin: ExternalOrigin, status: str, entity_id, error: str | None,
         payload: dict | None) -> dict:
    now = utcnow()
    return dict(factory_id=ctx.factory_id, entity_type=ENTITY_CUSTOMER,
                entity_id=None if entity_id is None else str(entity_id), source=origin.source,
                remote_id=origin.remote_id, sync_status=status, error_message=error,
                payload=_payload(payload), trace_id=ctx.trace_id, operator_id=ctx.operator_id,
                created_at=now, updated_at=now)


def refuse_repeated_import(uow: CustomerUnitOfWork, ctx: RequestContext, origin: ExternalOrigin) -> None:
    """Inside the import's transaction: serialise imports of this remote record, and refuse
    it when an earlier import already created a (still live) customer."""
    uow.external_sync.lock_remote(ctx.factory_id, origin.source, origin.remote_id)
    existing = uow.external_sync.imported_customer(ctx.factory_id, origin.source, origin.remote_id)
    if existing is not None:
        raise AlreadyImported(customer_id=existing)


def record_success(uow: CustomerUnitOfWork, ctx: RequestContext, origin: ExternalOrigin,
                   customer_id: int, payload: dict | None = None) -> None:
    """Inside the import's transaction."""
    uow.external_sync.add(**_row(ctx, origin, SUCCESS, customer_id, None, payload))


def record_failure(uow: CustomerUnitOfWork, ctx: RequestContext, origin: ExternalOrigin,
                   exc: BaseException, payload: dict | None = None) -> None:
    """After the import rolled back, in a transaction of its own. Never hides the import's
    own error: a failure to write the audit row is logged."""
    error = exc.message if isinstance(exc, AppError) else f"{type(exc).__name__}: 服务器内部错误"
    if isinstance(exc, AppError) and exc.error_code:
        error = f"{exc.error_code}: {error}"
    try:
        with uow:
            uow.external_sync.add(**_row(ctx, origin, FAILED, None, error, payload))
            uow.commit()
    except Exception as audit_exc:  # noqa: BLE001
        log.error("external_sync_audit_failed", source=origin.source, remote_id=origin.remote_id,
                  error=type(audit_exc).__name__)

