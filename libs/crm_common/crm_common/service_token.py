"""A token for a service's own calls to another service (``analytics-service rebuild``
reading the owners' snapshots, for instance).

In production services hold no signing key: a service is an API client like any other and
gets its token from the issuer's ``POST /oauth/token`` with ``SERVICE_CLIENT_ID`` and
``SERVICE_CLIENT_SECRET`` (client credentials, HTTP Basic), cached until shortly before it
expires. Without those variables, where HS256 is allowed (development and tests), the token
is minted locally with ``JWT_SECRET`` and the claims the caller names.
"""
from __future__ import annotations

import threading
import time
from typing import Callable

import requests

from .auth import issue_token
from .config import ConfigError, Settings

TokenSource = Callable[[], str]


class TokenRequestFailed(RuntimeError):
    """The issuer did not hand out a token (unreachable, or the credentials were refused)."""


class ClientCredentials:
    """``source()`` -> a bearer token from ``token_url``, fetched again ``renew_before``
    seconds before the cached one expires."""

    def __init__(self, token_url: str, client_id: str, client_secret: str, *, timeout: float = 5.0,
                 renew_before: float = 60.0, session: requests.Session | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.token_url, self._credentials = token_url, (client_id, client_secret)
        self.timeout, self.renew_before = timeout, renew_before
        self._session = session or requests.Session()
        self._session.trust_env = False
        self._clock = clock
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> str:
        with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                self._token, expires_in = self._request()
                # Renew early, but never fetch on every call for a very short-lived token.
                self._renew_at = self._clock() + max(expires_in - self.renew_before, expires_in / 2)
            return self._token

    def _request(self) -> tuple[str, float]:
        try:
            resp = self._session.post(self.token_url, data={"grant_type": "client_credentials"},
                                      auth=self._credentials, timeout=self.timeout)
        except requests.RequestException as exc:
            raise TokenRequestFailed(f"{self.token_url}: {type(exc).__name__}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = {}
        if resp.status_code != 200 or not isinstance(body.get("access_token"), str):
            error = body.get("error") if isinstance(body, dict) else None
            raise TokenRequestFailed(f"{self.token_url}: HTTP {resp.status_code} {error or ''}".strip())
        expires_in = body.get("expires_in")
        return body["access_token"], float(expires_in) if isinstance(expires_in, (int, float)) else 300.0


def service_token_source(settings: Settings, *, sub: str, name: str, roles: list[str],
                         factories: list[str], domains: list[str], ttl_seconds: int = 3600) -> TokenSource:
    """Client credentials when ``SERVICE_CLIENT_ID``/``SERVICE_CLIENT_SECRET`` are set (the
    client's own roles apply, the claims given here do not); else an HS256 token with these
    claims where HS256 is allowed; else a configuration error."""
    client_id, secret = settings.get("SERVICE_CLIENT_ID"), settings.get("SERVICE_CLIENT_SECRET")
    if bool(client_id) != bool(secret):
        raise ConfigError("SERVICE_CLIENT_ID and SERVICE_CLIENT_SECRET go together")
    if client_id and secret:
        token_url = settings.get("OAUTH_TOKEN_URL") or settings.service_urls["issuer"].rstrip("/") + "/oauth/token"
        return ClientCredentials(token_url, client_id, secret, timeout=settings.internal_http_timeout)
    if settings.jwt_secret is None:
        raise ConfigError("HS256 is refused here (CRM_ENV=production): set SERVICE_CLIENT_ID and "
                          "SERVICE_CLIENT_SECRET of an API client created with token-issuer")
    secret_key = settings.jwt_secret
    return lambda: issue_token(secret_key, sub=sub, name=name, roles=roles, factories=factories,
                               domains=domains, ttl_seconds=ttl_seconds)
