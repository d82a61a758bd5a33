"""Repositories over the issuer's tables."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from crm_common.db import paginate

from ..domain.model import REVOKED, ApiClient, AuditEntry, SigningKey
from . import orm


class ClientRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, client: ApiClient) -> None:
        self.session.add(client)

    def get(self, client_id: str, *, for_update: bool = False) -> ApiClient | None:
        stmt = sa.select(ApiClient).where(orm.api_clients.c.client_id == client_id)
        if for_update:
            stmt = stmt.with_for_update()
        return self.session.scalars(stmt).first()

    def page(self, *, status: str | None, page: int, page_size: int) -> dict:
        stmt = sa.select(ApiClient)
        if status:
            stmt = stmt.where(orm.api_clients.c.status == status)
        return paginate(self.session, stmt.order_by(orm.api_clients.c.id.desc()), page=page, page_size=page_size)

    def revoked_ids(self) -> list[str]:
        return list(self.session.scalars(
            sa.select(orm.api_clients.c.client_id).where(orm.api_clients.c.status == REVOKED)
            .order_by(orm.api_clients.c.client_id)))


class AuditRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, entry: AuditEntry) -> None:
        self.session.add(entry)

    def page(self, client_id: str, *, page: int, page_size: int) -> dict:
        stmt = (sa.select(AuditEntry).where(orm.api_client_audit.c.client_id == client_id)
                .order_by(orm.api_client_audit.c.id.desc()))
        return paginate(self.session, stmt, page=page, page_size=page_size)


class KeyRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, key: SigningKey) -> None:
        self.session.add(key)

    def all(self) -> list[SigningKey]:
        return list(self.session.scalars(sa.select(SigningKey).order_by(orm.signing_keys.c.generation)))

    def delete(self, key: SigningKey) -> None:
        self.session.delete(key)
