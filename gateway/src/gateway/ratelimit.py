"""Rate limits per token (the JWT ``sub``), configured per role.

Algorithm: GCRA (generic cell rate algorithm), a token bucket that stores one number per
key, the *theoretical arrival time* (TAT). With ``rate`` requests per second the emission
interval is ``T = 1/rate``; a request at ``now`` is allowed when
``max(TAT, now) + T - burst*T <= now``, and then ``TAT = max(TAT, now) + T``. A key whose
TAT lies in the past is a full bucket, so keys expire on their own.

Storage: in Redis when ``REDIS_URL`` is set, as one atomic Lua script using Redis' clock,
so every worker and every gateway replica shares the counters. Without Redis, the workers
of one gateway process (gunicorn master) share a table in a file of the master's private
state directory (``CRM_SHARED_STATE_DIR``), mapped into every worker, so the documented
limit holds whatever ``WEB_CONCURRENCY`` is; only without gunicorn (one process) the
counters live in memory. When Redis cannot be reached the limiter fails open (requests
pass, a warning is logged, ``gateway_rate_limit_store_errors_total`` counts it) and
retries Redis after a pause.

``RateLimiter.check`` runs on the worker's event loop: Redis is asked with its asyncio
client; the in-memory and shared-file stores answer in microseconds and are called inline.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import math
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from typing import Iterable, Mapping

import redis
import redis.asyncio

from crm_common import logs
from crm_common.config import ConfigError, Settings

from .metrics import RATE_LIMIT_STORE_ERRORS, RATE_LIMITED

log = logs.get_logger("gateway.ratelimit")

DEFAULT_PREFIX = "crm:ratelimit"
# Roles without an entry use "default". ``None`` (JSON null) means unlimited.
DEFAULT_POLICIES: dict[str, dict | None] = {
    "admin": {"rate": 1000, "burst": 2000},
    "integrator": {"rate": 10, "burst": 10},  # seed 002: 10 requests per second
    "default": {"rate": 50, "burst": 100},
}


@dataclass(frozen=True)
class Policy:
    name: str
    rate: float  # requests per second, sustained
    burst: int   # requests allowed at once (the bucket size)

    @property
    def interval_us(self) -> int:
        """Emission interval: microseconds per request."""
        return max(1, round(1_000_000 / self.rate))


def parse_policies(raw: str | None) -> dict[str, Policy | None]:
    """``RATE_LIMITS`` JSON, role -> ``{"rate": r, "burst": b}`` (or a bare number for the
    rate, or null for unlimited), laid over ``DEFAULT_POLICIES`` role by role."""
    table: dict[str, object] = dict(DEFAULT_POLICIES)
    if raw:
        try:
            given = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"RATE_LIMITS is not valid JSON: {exc}") from exc
        if not isinstance(given, dict):
            raise ConfigError("RATE_LIMITS must be a JSON object: role -> {rate, burst}")
        table.update(given)
    policies: dict[str, Policy | None] = {}
    for role, spec in table.items():
        if spec is None:
            policies[role] = None
            continue
        if isinstance(spec, (int, float)):
            spec = {"rate": spec}
        try:
            rate = float(spec["rate"])
            burst = int(spec.get("burst") or math.ceil(rate))
        except (TypeError, KeyError, ValueError) as exc:
            raise ConfigError(f"RATE_LIMITS[{role!r}] needs a numeric rate (and burst): {spec!r}") from exc
        if rate <= 0 or burst < 1:
            raise ConfigError(f"RATE_LIMITS[{role!r}]: rate must be > 0 and burst >= 1")
        policies[role] = Policy(role, rate, burst)
    return policies


def policy_for(roles: Iterable[str], policies: Mapping[str, Policy | None]) -> Policy | None:
    """The most permissive policy among the token's roles (``None``: unlimited); roles
    without a policy of their own count as ``default``."""
    candidates = [policies[role] if role in policies else policies.get("default") for role in roles]
    if not candidates:
        candidates = [policies.get("default")]
    if any(policy is None for policy in candidates):
        return None
    return max(candidates, key=lambda p: (p.rate, p.burst))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    limit: int           # the bucket size (burst)
    remaining: int       # requests that could still be made right now
    reset_after: float   # seconds until the bucket is full again
    retry_after: float   # seconds until the next request would pass (0 when allowed)
    policy: str = ""
    enforced: bool = True

    def headers(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.remaining)),
            "X-RateLimit-Reset": str(math.ceil(self.reset_after)),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


def gcra(tat: int | None, now: int, policy: Policy) -> tuple[Decision, int | None]:
    """One GCRA step in integer microseconds (no rounding drift): the decision and the TAT
    to store (``None``: leave it unchanged). ``RedisStore.SCRIPT`` is the same in Lua."""
    interval = policy.interval_us
    tat = now if tat is None or tat < now else tat
    new_tat = tat + interval
    allow_at = new_tat - policy.burst * interval
    if now < allow_at:
        return Decision(False, policy.burst, 0, (tat - now) / 1e6, (allow_at - now) / 1e6, policy.name), None
    remaining = (now - allow_at) // interval
    return Decision(True, policy.burst, remaining, (new_tat - now) / 1e6, 0.0, policy.name), new_tat


class MemoryStore:
    """Counters of this process only (each gunicorn worker has its own)."""
    kind = "memory"

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._tats: dict[str, int] = {}
        self._lock = threading.Lock()
        self._hits = 0

    async def hit(self, key: str, policy: Policy) -> Decision:
        with self._lock:
            now = round(self._clock() * 1_000_000)
            decision, new_tat = gcra(self._tats.get(key), now, policy)
            if new_tat is not None:
                self._tats[key] = new_tat
            self._hits += 1
            if self._hits % 4096 == 0:  # forget full buckets so memory stays bounded
                self._tats = {k: v for k, v in self._tats.items() if v > now}
        return decision

    def ready(self) -> tuple[bool, object]:
        return True, {"store": "memory"}


class SharedFileStore:
    """Counters shared by the workers of one gunicorn master: a table of fixed size in a
    file of the master's private directory, mapped into every worker's memory, with one
    ``flock`` around each GCRA step (two system calls; the step itself is a few
    microseconds, so no worker ever waits long on the event loop). Written by hand because
    no well-kept library offers a cross-process GCRA store without a server.

    A slot holds a key's 8-byte digest and its TAT. A key lives in the first free slot of
    the ``PROBE`` slots after its digest's position; a slot whose TAT has passed is a full
    bucket, so it is free for any key. When all of them hold live buckets, the one nearest
    to full is taken over: its caller then counts from a full bucket (at most one burst
    more for it), which takes more than ``PROBE`` callers limited at once on one window of
    a 65,536-slot table."""
    kind = "shared-file"
    SLOT = struct.Struct("<Qq")  # key digest, TAT in µs (0, 0: never used)
    PROBE = 16

    def __init__(self, path: str, clock=time.monotonic, slots: int = 1 << 16):
        self._clock = clock  # CLOCK_MONOTONIC is system-wide: every worker reads the same clock
        self._slots = slots
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        size = slots * self.SLOT.size
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            if os.fstat(self._fd).st_size < size:  # the first worker sizes it (zeros: all free)
                os.ftruncate(self._fd, size)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._table = mmap.mmap(self._fd, size)

    def _digest(self, key: str) -> int:
        # not hash(): string hashes differ between processes
        return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") or 1

    async def hit(self, key: str, policy: Policy) -> Decision:
        digest = self._digest(key)
        first, table, slot = digest % self._slots, self._table, self.SLOT
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            now = round(self._clock() * 1_000_000)
            found = free = nearest_full = None
            for i in range(self.PROBE):
                offset = ((first + i) % self._slots) * slot.size
                owner, tat = slot.unpack_from(table, offset)
                if owner == digest:
                    found = (offset, tat)
                    break
                if free is None and tat <= now:  # never used, or a full bucket
                    free = offset
                if nearest_full is None or tat < nearest_full[1]:
                    nearest_full = (offset, tat)
            offset, tat = found or ((free, None) if free is not None else (nearest_full[0], None))
            decision, new_tat = gcra(tat, now, policy)
            if new_tat is not None:
                slot.pack_into(table, offset, digest, new_tat)
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        return decision

    def ready(self) -> tuple[bool, object]:
        return True, {"store": self.kind}


class RedisStore:
    """Counters shared through Redis: one atomic script per request, keys expire with
    their bucket."""
    kind = "redis"

    # KEYS[1] the caller's key; ARGV[1] emission interval (µs); ARGV[2] burst.
    # Returns {allowed, remaining, retry_after_us, reset_after_us}.
    SCRIPT = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if not tat or tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if now < allow_at then
  return {0, 0, allow_at - now, tat - now}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0, new_tat - now}
"""

    def __init__(self, url: str, timeout: float = 0.25):
        self._url, self._timeout = url, timeout
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._script = None  # made on the event loop that uses it (after gunicorn's fork)

    async def hit(self, key: str, policy: Policy) -> Decision:
        if self._script is None:
            client = redis.asyncio.Redis.from_url(self._url, socket_timeout=self._timeout,
                                                  socket_connect_timeout=self._timeout)
            self._script = client.register_script(self.SCRIPT)
        allowed, remaining, retry_us, reset_us = await self._script(keys=[key],
                                                                    args=[policy.interval_us, policy.burst])
        return Decision(bool(allowed), policy.burst, int(remaining), int(reset_us) / 1e6,
                        int(retry_us) / 1e6, policy.name)

    def ready(self) -> tuple[bool, object]:
        self._client.ping()
        return True, {"store": "redis"}


class RateLimiter:
    def __init__(self, policies: Mapping[str, Policy | None], store, prefix: str = DEFAULT_PREFIX,
                 retry_store_after: float = 5.0):
        self.policies = dict(policies)
        self.store = store
        self.prefix = prefix
        self._retry_store_after = retry_store_after
        self._store_down_until = 0.0
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        shared_dir = settings.get("CRM_SHARED_STATE_DIR")
        if settings.redis_url:
            store = RedisStore(settings.redis_url, settings.get_float("RATE_LIMIT_REDIS_TIMEOUT", 0.25))
        elif shared_dir:
            store = SharedFileStore(os.path.join(shared_dir, "ratelimit.table"))
        else:
            store = MemoryStore()
        return cls(parse_policies(settings.get("RATE_LIMITS")), store,
                   settings.get("RATE_LIMIT_PREFIX", DEFAULT_PREFIX),
                   settings.get_float("RATE_LIMIT_REDIS_RETRY_SECONDS", 5.0))

    async def check(self, sub: str, roles: Iterable[str]) -> Decision | None:
        """The decision for one request of ``sub``; ``None`` when its roles are unlimited."""
        policy = policy_for(roles, self.policies)
        if policy is None:
            return None
        if time.monotonic() < self._store_down_until:
            return self._fail_open(policy)
        try:
            decision = await self.store.hit(f"{self.prefix}:{sub}", policy)
        except (redis.RedisError, OSError) as exc:
            with self._lock:
                self._store_down_until = time.monotonic() + self._retry_store_after
            # Availability over strictness: a Redis outage must not take the API down.
            log.warning("rate_limit_store_unavailable", error=type(exc).__name__, detail=str(exc)[:200],
                        fail_open_seconds=self._retry_store_after)
            return self._fail_open(policy)
        if not decision.allowed:
            RATE_LIMITED.labels(policy.name).inc()
        return decision

    @staticmethod
    def _fail_open(policy: Policy) -> Decision:
        RATE_LIMIT_STORE_ERRORS.inc()
        return Decision(True, policy.burst, policy.burst, 0.0, 0.0, policy.name, enforced=False)

    def ready(self) -> tuple[bool, object]:
        """Readiness detail (reported, never fatal: the limiter fails open)."""
        try:
            return self.store.ready()
        except (redis.RedisError, OSError) as exc:
            return False, {"store": self.store.kind, "error": type(exc).__name__, "fail_open": True}
