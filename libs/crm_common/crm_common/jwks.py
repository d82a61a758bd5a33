"""What the token issuer publishes, fetched and cached for token verification in every
service and the gateway: its public keys (``GET /.well-known/jwks.json``) and the clients
it has revoked (``GET /internal/revoked-clients``).

A request never waits on the issuer for longer than ``JWKS_TIMEOUT`` (default 2 s):

* keys are fetched on first use and again when a token names an unknown ``kid`` (at most
  once per ``JWKS_MIN_REFRESH_SECONDS`` after a success, ``JWKS_RETRY_SECONDS`` after a
  failure, so forged ``kid``s cannot make a process hammer the issuer); a background thread
  refreshes them every ``JWKS_MAX_AGE_SECONDS`` so that a key the issuer dropped stops
  verifying. An unknown ``kid`` is 401 when the issuer answered, 503 with ``Retry-After``
  when it could not be asked (the token may be fine: the caller should retry, not give up).
* the revocation list is polled in the background every ``REVOCATION_POLL_SECONDS``
  (default 5 s). It is trusted for ``REVOCATION_MAX_AGE_SECONDS`` (default 30 s) after the
  last successful poll; past that every issuer token is refused with 503, so a revoked
  client's tokens stop working within 30 s whatever happens to the issuer.

Nothing is fetched (and no thread started) until the first issuer token arrives: a process
that only ever sees HS256 development tokens never talks to the issuer.
"""
from __future__ import annotations

import json
import math
import threading
import time
from typing import Callable

import jwt
import requests
from urllib3.util import Timeout

from . import logs
from .auth import ASYMMETRIC_ALGORITHMS, NeedsIssuer, TokenVerifier
from .config import Settings
from .errors import ServiceUnavailable, Unauthorized

log = logs.get_logger("crm.jwks")

MAX_DOCUMENT_BYTES = 256 * 1024


class FetchFailed(Exception):
    """The issuer could not be asked, or did not answer with the document."""


def fetch_json(session: requests.Session, url: str, timeout: float,
               etag: str | None = None) -> tuple[dict | None, str | None]:
    """``(document, etag)``; ``(None, etag)`` when the issuer says it has not changed (304).

    ``timeout`` bounds the whole exchange (connect, headers and the body as it arrives),
    not each socket operation alone: a server that drips its answer is cut off too (at
    worst one socket wait after the deadline, itself bounded by ``timeout``)."""
    deadline = time.monotonic() + timeout
    headers = {"Accept": "application/json", **({"If-None-Match": etag} if etag else {})}
    try:
        with session.get(url, headers=headers, timeout=Timeout(total=timeout), stream=True,
                         allow_redirects=False) as resp:
            if resp.status_code == 304 and etag:
                return None, etag
            if resp.status_code != 200:
                raise FetchFailed(f"HTTP {resp.status_code}")
            body = bytearray()
            # read1: whatever has arrived (a full block would wait for a dripping server)
            while block := resp.raw.read1(16 * 1024):
                body += block
                if len(body) > MAX_DOCUMENT_BYTES:
                    raise FetchFailed("document too large")
                if time.monotonic() > deadline:
                    raise FetchFailed("too slow")
            document = json.loads(body)
    except (requests.RequestException, ValueError) as exc:
        raise FetchFailed(type(exc).__name__) from exc
    if not isinstance(document, dict):
        raise FetchFailed("not a JSON object")
    return document, resp.headers.get("ETag")


Fetch = Callable[[str, float, "str | None"], "tuple[dict | None, str | None]"]


def http_fetch() -> Fetch:
    """``fetch_json`` over one pooled session (internal calls: no proxies or netrc)."""
    session = requests.Session()
    session.trust_env = False
    return lambda url, timeout, etag=None: fetch_json(session, url, timeout, etag)


def issuer_unavailable(what: str, retry_after: float) -> ServiceUnavailable:
    return ServiceUnavailable(f"令牌服务暂不可用，无法校验令牌（{what}），请稍后重试",
                              error_code="ISSUER_UNAVAILABLE",
                              headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


def parse_jwks(document: dict) -> dict[str, jwt.PyJWK]:
    """``kid`` -> key for every usable signing key of a JWKS; others are skipped (logged)."""
    keys: dict[str, jwt.PyJWK] = {}
    for entry in document.get("keys") or []:
        if not isinstance(entry, dict):
            continue
        kid, alg = entry.get("kid"), entry.get("alg")
        if not isinstance(kid, str) or alg not in ASYMMETRIC_ALGORITHMS or entry.get("use", "sig") != "sig":
            log.warning("jwks_key_skipped", kid=str(kid)[:64], alg=str(alg)[:16])
            continue
        try:
            keys[kid] = jwt.PyJWK(entry, algorithm=alg)
        except jwt.PyJWKError as exc:
            log.warning("jwks_key_unusable", kid=kid[:64], error=str(exc)[:200])
    return keys


class JwksCache:
    """The issuer's public keys by ``kid`` (``crm_common.auth.KeySource``)."""

    def __init__(self, url: str, *, timeout: float = 2.0, min_refresh: float = 5.0,
                 retry_after_failure: float = 2.0, max_age: float = 300.0,
                 fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic):
        self.url = url
        self.timeout, self.min_refresh, self.retry_after_failure = timeout, min_refresh, retry_after_failure
        self.max_age = max_age
        self._fetch = fetch or http_fetch()
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None   # last successful fetch
        self._attempted_at: float | None = None
        self._failed = False
        self._lock = threading.Lock()

    def key_for(self, kid: str, *, fetch: bool = True) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        if not fetch:
            raise NeedsIssuer(kid)
        outcome = self._refresh()
        key = self._keys.get(kid)
        if key is not None:
            return key
        if outcome == "busy" or (outcome in ("failed", "skipped") and self._failed):
            raise issuer_unavailable("签名公钥", self.retry_after_failure)
        raise Unauthorized("令牌的签名密钥未知", error_code="TOKEN_INVALID")

    def refresh_if_old(self) -> None:
        """For the background thread: fetch again once the keys are ``max_age`` old."""
        if self._fetched_at is None or self._clock() - self._fetched_at >= self.max_age:
            self._refresh()

    def _refresh(self) -> str:
        """``fetched``, ``failed``, ``skipped`` (asked too recently) or ``busy`` (another
        thread is asking and did not finish within our timeout)."""
        # The lock first: a request that meets another thread's fetch in progress waits for
        # it (its keys may hold ours) instead of being refused as "asked too recently".
        if not self._lock.acquire(timeout=self.timeout):
            return "busy"
        try:
            if not self._due():  # fetched (or tried) recently, maybe while we waited
                return "skipped"
            self._attempted_at = self._clock()
            try:
                document, _ = self._fetch(self.url, self.timeout, None)
            except FetchFailed as exc:
                if not self._failed:
                    log.warning("jwks_fetch_failed", url=self.url, error=str(exc))
                self._failed = True
                return "failed"
            keys = parse_jwks(document or {})
            if set(keys) != set(self._keys):
                log.info("jwks_keys", kids=sorted(keys))
            self._keys, self._fetched_at, self._failed = keys, self._clock(), False
            return "fetched"
        finally:
            self._lock.release()

    def _due(self) -> bool:
        if self._attempted_at is None:
            return True
        wait = self.retry_after_failure if self._failed else self.min_refresh
        return self._clock() - self._attempted_at >= wait


class RevocationList:
    """Client ids the issuer has revoked (``crm_common.auth.RevocationSource``)."""

    def __init__(self, url: str, *, timeout: float = 2.0, poll_interval: float = 5.0, max_age: float = 30.0,
                 fetch: Fetch | None = None, clock: Callable[[], float] = time.monotonic):
        self.url = url
        self.timeout, self.poll_interval, self.max_age = timeout, poll_interval, max_age
        self._fetch = fetch or http_fetch()
        self._clock = clock
        self._revoked: frozenset[str] = frozenset()
        self._etag: str | None = None
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._failed = False
        self._lock = threading.Lock()

    def check(self, client_id: str, *, fetch: bool = True) -> None:
        if not self._fresh():
            if not fetch:
                raise NeedsIssuer("revocation list")
            self.refresh(wait=self.timeout)  # first use, or the poller is behind: ask once
            if not self._fresh():
                raise issuer_unavailable("吊销列表", self.poll_interval)
        if client_id in self._revoked:
            raise Unauthorized("该 API 客户端已被吊销", error_code="TOKEN_REVOKED")

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at <= self.max_age

    def refresh(self, wait: float | None = None) -> bool:
        """Fetch the list (a 304 keeps it and counts as fresh). ``wait``: how long to wait
        for a fetch another thread is doing; after a failure, requests do not retry for
        ``poll_interval`` (the poller does)."""
        if wait is not None and self._attempted_at is not None and self._failed \
                and self._clock() - self._attempted_at < min(self.poll_interval, self.max_age):
            return False
        if not self._lock.acquire(timeout=-1 if wait is None else wait):
            return False
        try:
            if wait is not None and self._fresh():
                return True
            self._attempted_at = self._clock()
            try:
                document, etag = self._fetch(self.url, self.timeout, self._etag)
            except FetchFailed as exc:
                if not self._failed:
                    log.warning("revocation_list_fetch_failed", url=self.url, error=str(exc))
                self._failed = True
                return False
            if document is not None:
                ids = document.get("client_ids")
                if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                    if not self._failed:
                        log.warning("revocation_list_malformed", url=self.url)
                    self._failed = True
                    return False
                self._revoked, self._etag = frozenset(ids), etag
            if self._failed:
                log.info("revocation_list_recovered", url=self.url, revoked=len(self._revoked))
            self._fetched_at, self._failed = self._clock(), False
            return True
        finally:
            self._lock.release()


class IssuerWatcher:
    """One daemon thread per process that keeps the revocation list and the keys fresh.
    Started by the first issuer token this process sees (after gunicorn's fork, so each
    worker has its own)."""

    def __init__(self, keys: JwksCache, revocations: RevocationList):
        self.keys, self.revocations = keys, revocations
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()

    def ensure_started(self) -> None:
        if self._started:
            return
        with self._lock:
            if not self._started:
                threading.Thread(target=self._run, name="issuer-watcher", daemon=True).start()
                self._started = True

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.wait(self.revocations.poll_interval):
            try:
                self.revocations.refresh()
                self.keys.refresh_if_old()
            except Exception:  # noqa: BLE001 - the watcher must outlive any surprise
                log.exception("issuer_watcher_error")


class _Watched:
    """Starts the watcher on first use, then delegates."""

    def __init__(self, target, watcher: IssuerWatcher):
        self._target, self._watcher = target, watcher

    def key_for(self, kid: str, *, fetch: bool = True) -> jwt.PyJWK:
        self._watcher.ensure_started()
        return self._target.key_for(kid, fetch=fetch)

    def check(self, client_id: str, *, fetch: bool = True) -> None:
        self._watcher.ensure_started()
        self._target.check(client_id, fetch=fetch)


def verifier_from_settings(settings: Settings) -> TokenVerifier:
    """The token verifier of a process: HS256 when allowed, the issuer's keys and
    revocation list otherwise (see the module docstring for the variables)."""
    timeout = settings.get_float("JWKS_TIMEOUT", 2.0)
    keys = JwksCache(settings.jwks_url, timeout=timeout,
                     min_refresh=settings.get_float("JWKS_MIN_REFRESH_SECONDS", 5.0),
                     retry_after_failure=settings.get_float("JWKS_RETRY_SECONDS", 2.0),
                     max_age=settings.get_float("JWKS_MAX_AGE_SECONDS", 300.0))
    revocations = RevocationList(settings.revocations_url, timeout=timeout,
                                 poll_interval=settings.get_float("REVOCATION_POLL_SECONDS", 5.0),
                                 max_age=settings.get_float("REVOCATION_MAX_AGE_SECONDS", 30.0))
    watcher = IssuerWatcher(keys, revocations)
    return TokenVerifier(hs256_secret=settings.jwt_secret if settings.allow_hs256 else None,
                         keys=_Watched(keys, watcher), revocations=_Watched(revocations, watcher),
                         issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                         leeway=settings.jwt_leeway_seconds, max_ttl=settings.jwt_max_ttl)
