"""``POST /oauth/token``: the client credentials grant (RFC 6749 §4.4).

Order of checks: the request's shape (cheap), then the guessing limits (before any secret
is hashed), then the client and its secret (argon2id), then the token. Every refusal is an
``OAuthError`` that the entrypoint renders as RFC 6749 §5.2 JSON."""
from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jwt

from crm_common import logs

from ..domain.credentials import plausible_client_id
from .keys import current_signer

if TYPE_CHECKING:
    from ..bootstrap import Issuer

log = logs.get_logger("token_issuer.tokens")

GRANT_TYPE = "client_credentials"


class OAuthError(Exception):
    """RFC 6749 §5.2: ``error`` code, a description, the HTTP status and headers."""

    def __init__(self, error: str, description: str, status: int = 400, headers: dict | None = None):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status
        self.headers = headers or {}


@dataclass(frozen=True)
class TokenRequest:
    grant_type: str | None
    client_id: str | None
    client_secret: str | None
    basic_auth: bool           # the client authenticated with HTTP Basic
    address: str | None        # the caller's address (after our own proxies)
    scope: str | None = None


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    token_type: str = "Bearer"

    def as_dict(self) -> dict:
        return {"access_token": self.access_token, "token_type": self.token_type, "expires_in": self.expires_in}


def _invalid_client(req: TokenRequest, description: str) -> OAuthError:
    # RFC 6749 §5.2: 401, and WWW-Authenticate when the client tried HTTP Basic.
    headers = {"WWW-Authenticate": 'Basic realm="crm", charset="UTF-8"'} if req.basic_auth else {}
    return OAuthError("invalid_client", description, 401, headers)


def check_shape(req: TokenRequest) -> None:
    if not req.grant_type:
        raise OAuthError("invalid_request", "grant_type is required")
    if req.grant_type != GRANT_TYPE:
        raise OAuthError("unsupported_grant_type", f"only grant_type={GRANT_TYPE} is supported")
    if req.scope:
        raise OAuthError("invalid_scope", "scopes are not used: a client's roles, factories and domains "
                                          "are set by the admin who created it")
    if not req.client_id or not req.client_secret:
        raise _invalid_client(req, "client authentication is required (HTTP Basic, or client_id and "
                                   "client_secret in the form body)")


def issue_access_token(issuer: "Issuer", req: TokenRequest, now: dt.datetime) -> IssuedToken:
    check_shape(req)
    plausible = plausible_client_id(req.client_id)
    counted_id = req.client_id if plausible else None
    wait = issuer.limiter.retry_after(counted_id, req.address)
    if wait is not None:
        log.warning("token_request_rate_limited", client_id=counted_id, address=req.address)
        raise OAuthError("rate_limited", "too many failed client authentications; retry later", 429,
                         {"Retry-After": str(max(1, round(wait)))})
    uow = issuer.uow_factory()
    with uow:
        client = uow.clients.get(req.client_id) if plausible else None
    authenticated = issuer.hasher.verify(client.secret_hash if client else None, req.client_secret)
    if not authenticated or not client.active:
        issuer.limiter.failed(counted_id, req.address)
        log.info("token_refused", client_id=counted_id, address=req.address,
                 reason="revoked" if authenticated else "bad_credentials")
        raise _invalid_client(req, "client authentication failed")
    issuer.limiter.succeeded(client.client_id)
    signer = current_signer(issuer.uow_factory(), issuer.keys, now)
    issued = int(now.timestamp())
    claims = {**client.claims(), "iss": issuer.settings.jwt_issuer, "aud": issuer.settings.jwt_audience,
              "iat": issued, "nbf": issued, "exp": issued + issuer.token_ttl, "jti": uuid.uuid4().hex}
    token = jwt.encode(claims, signer.private_key, algorithm=signer.algorithm,
                       headers={"kid": signer.kid, "typ": "at+jwt"})
    log.info("token_issued", client_id=client.client_id, kid=signer.kid, expires_in=issuer.token_ttl)
    return IssuedToken(token, issuer.token_ttl)
