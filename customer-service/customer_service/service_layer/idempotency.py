"""``Idempotency-Key`` handling for write endpoints (bulk API).

The key is claimed inside the very transaction that performs the write, and the response
is stored in it before the commit: the key, the writes and their events commit together or
not at all. A second request with the same key waits on the unique index while the first
runs (at most ``WAIT``), then replays the stored response, or gets 422 when its body
differs; past the wait it gets 409 and may retry."""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import Conflict, Unprocessable

from ..domain import idempotency as rules
from .unit_of_work import CustomerUnitOfWork

WAIT = "20s"
REPLAY_HEADER = "Idempotent-Replayed"


@dataclass(frozen=True)
class IdempotentRequest:
    key: str
    endpoint: str
    fingerprint: str

    @classmethod
    def of(cls, key: str | None, endpoint: str, body) -> "IdempotentRequest | None":
        if not key:
            return None
        return cls(key, endpoint, rules.request_fingerprint(endpoint, body))


@dataclass(frozen=True)
class StoredResponse:
    status: int
    data: dict


def purge_expired(uow: CustomerUnitOfWork) -> None:
    """Opportunistic clean-up of keys past their 24 h, in its own short transaction."""
    with uow:
        uow.idempotency.purge_expired(utcnow())
        uow.commit()


def claim(uow: CustomerUnitOfWork, ctx: RequestContext, req: IdempotentRequest) -> StoredResponse | None:
    """Inside an open unit of work: take the key (``None``: go ahead and run) or return the
    response stored under it."""
    now = utcnow()
    repo = uow.idempotency
    repo.drop_expired_key(ctx.factory_id, req.endpoint, req.key, now)
    previous_timeout = repo.lock_timeout(WAIT)
    try:
        with uow.savepoint():
            repo.insert(factory_id=ctx.factory_id, endpoint=req.endpoint, key=req.key,
                        principal_sub=ctx.operator_id, request_hash=req.fingerprint,
                        now=now, expires_at=rules.expires_at(now))
        return None
    except IntegrityError:
        pass
    except OperationalError as exc:
        if getattr(exc.orig, "pgcode", None) == "55P03":  # lock_not_available
            raise Conflict(rules.IN_PROGRESS_MESSAGE, error_code="IDEMPOTENCY_IN_PROGRESS") from exc
        raise
    finally:
        repo.lock_timeout(previous_timeout)
    row = repo.find(ctx.factory_id, req.endpoint, req.key)
    if row is None or row.status_code is None:
        raise Conflict(rules.IN_PROGRESS_MESSAGE, error_code="IDEMPOTENCY_IN_PROGRESS")
    if row.request_hash != req.fingerprint or row.principal_sub != ctx.operator_id:
        raise Unprocessable(rules.KEY_REUSED_MESSAGE, error_code="IDEMPOTENCY_KEY_REUSED",
                            errors={"Idempotency-Key": [rules.KEY_REUSED_MESSAGE]})
    return StoredResponse(int(row.status_code), json.loads(row.response_body))


def remember(uow: CustomerUnitOfWork, ctx: RequestContext, req: IdempotentRequest,
             status: int, data: dict) -> None:
    """Store the response under the claimed key (same transaction as the writes)."""
    uow.idempotency.store_response(ctx.factory_id, req.endpoint, req.key, status,
                                   json.dumps(data, ensure_ascii=False))
