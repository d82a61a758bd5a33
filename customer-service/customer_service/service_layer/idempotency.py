"""``Idempotency-Key`` handling for write endpoints (bulk API).

The key is claimed inside the very transaction that performs the write, and the response
is stored in it before the commit: the key, the writes and their events commit together or
not at all. A second request with the same key waits on the unique index while the first
runs (at most ``WAIT``), then replays the stored response — for the same user and the same
request only (``domain.idempotency.check_replay``); past the wait it is refused and may
retry."""
from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError, OperationalError

from crm_common.context import RequestContext
from crm_common.db import utcnow

from ..domain import idempotency as rules
from ..domain.commands import IdempotencyKey
from ..domain.errors import KeyInProgress
from .unit_of_work import CustomerUnitOfWork

WAIT = "20s"


def key_for(key: str | None, endpoint: str, body) -> IdempotencyKey | None:
    return IdempotencyKey(key, endpoint, rules.request_fingerprint(endpoint, body)) if key else None


@dataclass(frozen=True)
class StoredResponse:
    status: int
    data: dict


def purge_expired(uow: CustomerUnitOfWork) -> None:
    """Opportunistic clean-up of keys past their 24 h, in its own short transaction."""
    with uow:
        uow.idempotency.purge_expired(utcnow())
        uow.commit()


def claim(uow: CustomerUnitOfWork, ctx: RequestContext, req: IdempotencyKey) -> StoredResponse | None:
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
            raise KeyInProgress() from exc
        raise
    finally:
        repo.lock_timeout(previous_timeout)
    row = repo.find(ctx.factory_id, req.endpoint, req.key)
    if row is None or row.status_code is None:
        raise KeyInProgress()
    rules.check_replay(stored_by=row.principal_sub, stored_fingerprint=row.request_hash,
                       caller=ctx.operator_id, fingerprint=req.fingerprint)
    return StoredResponse(int(row.status_code), json.loads(row.response_body))


def remember(uow: CustomerUnitOfWork, ctx: RequestContext, req: IdempotencyKey, status: int, data: dict) -> None:
    """Store the response under the claimed key (same transaction as the writes)."""
    uow.idempotency.store_response(ctx.factory_id, req.endpoint, req.key, status,
                                   json.dumps(data, ensure_ascii=False))
