"""Failed client authentications counted per client id and per source address, checked
before a secret is: past the limit ``POST /oauth/token`` answers 429 without hashing
anything, so guessing costs the guesser time and the issuer no CPU.

A counter is a fixed window (``ISSUER_GUESS_WINDOW_SECONDS``, default 300) that opens with
the first failure; a successful authentication clears its client's counter (not the
address's). Counters live in Redis when ``REDIS_URL`` is set (shared by every worker and
replica, keys expire with their window), else in the memory of each worker process (then
each worker counts alone: the limit multiplies by the number of workers). When Redis
cannot be reached the counters fall back to memory, never to "no limit".
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable

import redis

from crm_common import logs

log = logs.get_logger("token_issuer.guesslimit")


class MemoryCounters:
    kind = "memory"

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}  # key -> (failures, window ends)
        self._lock = threading.Lock()

    def count(self, key: str) -> tuple[int, float]:
        """(failures in the open window, seconds until it closes)."""
        with self._lock:
            failures, ends = self._counts.get(key, (0, 0.0))
            remaining = ends - self._clock()
            return (failures, remaining) if remaining > 0 else (0, 0.0)

    def add(self, key: str, window: float) -> None:
        with self._lock:
            now = self._clock()
            failures, ends = self._counts.get(key, (0, 0.0))
            if ends <= now:
                failures, ends = 0, now + window
            self._counts[key] = (failures + 1, ends)
            if len(self._counts) > 10_000:  # forget closed windows so memory stays bounded
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}

    def clear(self, key: str) -> None:
        with self._lock:
            self._counts.pop(key, None)


class RedisCounters:
    kind = "redis"
    # INCR, and open the window (expiry) with the first failure.
    ADD = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
"""

    def __init__(self, url: str, timeout: float = 0.25):
        self._client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        self._add = self._client.register_script(self.ADD)

    def count(self, key: str) -> tuple[int, float]:
        with self._client.pipeline(transaction=False) as pipe:
            failures, ttl_ms = pipe.get(key).pttl(key).execute()
        if failures is None or ttl_ms is None or ttl_ms <= 0:
            return 0, 0.0
        return int(failures), ttl_ms / 1000

    def add(self, key: str, window: float) -> None:
        self._add(keys=[key], args=[int(window * 1000)])

    def clear(self, key: str) -> None:
        self._client.delete(key)


@dataclass(frozen=True)
class Limits:
    per_client: int = 10
    per_address: int = 30
    window: float = 300.0


class GuessLimiter:
    def __init__(self, limits: Limits, store, prefix: str = "crm:issuer:failures",
                 fallback: MemoryCounters | None = None):
        self.limits, self.store, self.prefix = limits, store, prefix
        self._fallback = fallback or (store if isinstance(store, MemoryCounters) else MemoryCounters())

    @classmethod
    def from_settings(cls, settings) -> "GuessLimiter":
        limits = Limits(per_client=settings.get_int("ISSUER_GUESS_LIMIT_CLIENT", 10),
                        per_address=settings.get_int("ISSUER_GUESS_LIMIT_ADDRESS", 30),
                        window=settings.get_float("ISSUER_GUESS_WINDOW_SECONDS", 300.0))
        store = RedisCounters(settings.redis_url) if settings.redis_url else MemoryCounters()
        return cls(limits, store, settings.get("ISSUER_GUESS_PREFIX", "crm:issuer:failures"))

    def _keys(self, client_id: str | None, address: str | None) -> list[tuple[str, int]]:
        keys = []
        if client_id:
            keys.append((f"{self.prefix}:client:{client_id}", self.limits.per_client))
        if address:
            keys.append((f"{self.prefix}:address:{address}", self.limits.per_address))
        return keys

    def retry_after(self, client_id: str | None, address: str | None) -> float | None:
        """Seconds to wait when either counter is at its limit; ``None`` when both allow."""
        waits = [remaining for key, limit in self._keys(client_id, address)
                 for failures, remaining in [self._call("count", key)] if failures >= limit]
        return max(waits) if waits else None

    def failed(self, client_id: str | None, address: str | None) -> None:
        for key, _ in self._keys(client_id, address):
            self._call("add", key, self.limits.window)

    def succeeded(self, client_id: str) -> None:
        self._call("clear", f"{self.prefix}:client:{client_id}")

    def _call(self, method: str, *args):
        try:
            return getattr(self.store, method)(*args)
        except (redis.RedisError, OSError) as exc:
            log.warning("guess_limit_store_unavailable", error=type(exc).__name__, fallback="memory")
            return getattr(self._fallback, method)(*args)
