"""Stored responses of ``Idempotency-Key`` requests (table ``idempotency_keys``), scoped
per factory + endpoint + key."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import orm

k = orm.idempotency_keys.c


class IdempotencyRepository:
    def __init__(self, session: Session):
        self.session = session

    def _scope(self, factory_id: str, endpoint: str, key: str):
        return sa.and_(k.factory_id == factory_id, k.endpoint == endpoint, k.key == key)

    def drop_expired_key(self, factory_id: str, endpoint: str, key: str, now: dt.datetime) -> None:
        self.session.execute(sa.delete(orm.idempotency_keys).where(
            self._scope(factory_id, endpoint, key), k.expires_at < now))

    def purge_expired(self, now: dt.datetime, limit: int = 500) -> int:
        """Delete up to ``limit`` expired keys, skipping rows another purge holds."""
        ids = sa.select(k.id).where(k.expires_at < now).limit(limit)
        if self.session.get_bind().dialect.name == "postgresql":
            ids = ids.with_for_update(skip_locked=True)
        return self.session.execute(sa.delete(orm.idempotency_keys).where(k.id.in_(ids))).rowcount or 0

    def insert(self, *, factory_id: str, endpoint: str, key: str, principal_sub: str,
               request_hash: str, now: dt.datetime, expires_at: dt.datetime) -> None:
        """Raises ``IntegrityError`` when the key exists; on PostgreSQL it first waits for
        a concurrent transaction holding the same key to finish."""
        self.session.execute(sa.insert(orm.idempotency_keys).values(
            factory_id=factory_id, endpoint=endpoint, key=key, principal_sub=principal_sub,
            request_hash=request_hash, created_at=now, expires_at=expires_at))

    def find(self, factory_id: str, endpoint: str, key: str):
        return self.session.execute(sa.select(orm.idempotency_keys).where(
            self._scope(factory_id, endpoint, key))).first()

    def store_response(self, factory_id: str, endpoint: str, key: str, status: int, body: str) -> None:
        self.session.execute(sa.update(orm.idempotency_keys).where(self._scope(factory_id, endpoint, key))
                             .values(status_code=status, response_body=body))

    def lock_timeout(self, value: str | None) -> str | None:
        """Set this transaction's lock wait limit (PostgreSQL); returns the previous one."""
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        previous = self.session.scalar(sa.text("SELECT current_setting('lock_timeout')"))
        self.session.execute(sa.text("SELECT set_config('lock_timeout', :v, true)"), {"v": value or "0"})
        return previous
