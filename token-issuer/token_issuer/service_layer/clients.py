"""API clients: create, read, list, rotate the secret, revoke; every change audited with
its operator in the same transaction."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from crm_common import logs
from crm_common.errors import NotFound

from ..domain import model
from ..domain.credentials import SecretHasher, new_client_id, new_client_secret
from ..domain.model import ApiClient, AuditEntry, Operator
from .unit_of_work import IssuerUnitOfWork

log = logs.get_logger("token_issuer.clients")

CLIENT_NOT_FOUND = "API 客户端不存在"


@dataclass(frozen=True)
class CreateClient:
    name: str
    roles: list[str]
    factories: list[str]
    domains: list[str]


@dataclass(frozen=True)
class IssuedSecret:
    """A client with the secret that was just generated: the only time it is seen."""
    client: ApiClient
    client_secret: str


def _audit(uow: IssuerUnitOfWork, client: ApiClient, action: str, operator: Operator, now: dt.datetime,
           **details) -> None:
    uow.audit.add(AuditEntry(client_id=client.client_id, action=action, operator_id=operator.id,
                             operator_name=operator.name, trace_id=operator.trace_id, at=now, details=details))


def _log(client: ApiClient, action: str, operator: Operator) -> None:
    log.info("api_client_" + action, client_id=client.client_id, operator_id=operator.id,
             roles=list(client.roles))


def _load(uow: IssuerUnitOfWork, client_id: str, *, for_update: bool = False) -> ApiClient:
    client = uow.clients.get(client_id, for_update=for_update)
    if client is None:
        raise NotFound(CLIENT_NOT_FOUND, error_code="CLIENT_NOT_FOUND")
    return client


def create_client(uow: IssuerUnitOfWork, cmd: CreateClient, operator: Operator, hasher: SecretHasher,
                  now: dt.datetime) -> IssuedSecret:
    grant = model.check_grant(cmd.roles, cmd.factories, cmd.domains)
    secret = new_client_secret()
    secret_hash = hasher.hash(secret)  # slow on purpose: outside the transaction
    for _ in range(3):  # a client id collision (80 random bits) is all but impossible; retry anyway
        with uow:
            client = ApiClient(client_id=new_client_id(), name=cmd.name.strip(), roles=list(grant.roles),
                               factories=list(grant.factories), domains=list(grant.domains),
                               secret_hash=secret_hash, created_at=now, created_by=operator.id,
                               created_by_name=operator.name)
            uow.clients.add(client)
            _audit(uow, client, model.CREATED, operator, now, name=client.name, roles=client.roles,
                   factories=client.factories, domains=client.domains)
            try:
                uow.commit()
            except IntegrityError:
                continue
        _log(client, model.CREATED, operator)
        return IssuedSecret(client, secret)
    raise RuntimeError("could not allocate a unique client id")


def get_client(uow: IssuerUnitOfWork, client_id: str) -> ApiClient:
    with uow:
        return _load(uow, client_id)


def list_clients(uow: IssuerUnitOfWork, *, status: str | None, page: int, page_size: int) -> dict:
    with uow:
        return uow.clients.page(status=status, page=page, page_size=page_size)


def client_audit(uow: IssuerUnitOfWork, client_id: str, *, page: int, page_size: int) -> dict:
    """The client's history, newest first."""
    with uow:
        _load(uow, client_id)
        return uow.audit.page(client_id, page=page, page_size=page_size)


def rotate_secret(uow: IssuerUnitOfWork, client_id: str, operator: Operator, hasher: SecretHasher,
                  now: dt.datetime) -> IssuedSecret:
    """A new secret, shown once; the old one stops working at once. Tokens issued with the
    old secret stay valid until they expire (revoke the client to end those too)."""
    secret = new_client_secret()
    secret_hash = hasher.hash(secret)
    with uow:
        client = _load(uow, client_id, for_update=True)
        client.rotate_secret(secret_hash, now)
        _audit(uow, client, model.SECRET_ROTATED, operator, now)
        uow.commit()
    _log(client, model.SECRET_ROTATED, operator)
    return IssuedSecret(client, secret)


def revoke_client(uow: IssuerUnitOfWork, client_id: str, operator: Operator, now: dt.datetime) -> ApiClient:
    """No new tokens from now on; tokens already issued are refused by every service within
    REVOCATION_MAX_AGE_SECONDS (the revocation list they poll). Revoking twice changes nothing."""
    with uow:
        client = _load(uow, client_id, for_update=True)
        if not client.revoke(operator, now):
            return client
        _audit(uow, client, model.REVOKED_ACTION, operator, now)
        uow.commit()
    _log(client, model.REVOKED_ACTION, operator)
    return client


def revoked_client_ids(uow: IssuerUnitOfWork) -> list[str]:
    with uow:
        return uow.clients.revoked_ids()
