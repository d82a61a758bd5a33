"""What happens after a failed attempt (CONTRACT §6): exponential backoff with jitter, a
delivery given up after ``max_attempts``, a receiver that keeps failing paused, and a
subscription whose deliveries keep failing deactivated."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

MIN_ATTEMPTS = 8  # CONTRACT §6: at least 8 attempts before a delivery is failed
JITTER = 0.25     # each delay is spread ±25 % so that retries of many deliveries do not align


def backoff(step: int, base: float, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Seconds to wait after the ``step``-th consecutive failure (1-based):
    ``min(cap, base · 2^(step-1))``, then ±25 % jitter."""
    nominal = min(cap, base * 2 ** (min(max(step, 1), 64) - 1))
    return nominal * (1 - JITTER + 2 * JITTER * rand())


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = MIN_ATTEMPTS
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    # The receiver is paused (no attempt to it at all) once this many attempts in a row failed...
    pause_after_failed_attempts: int = 5
    # ... and the subscription deactivated once this many deliveries in a row were given up.
    deactivate_after_failed_deliveries: int = 10

    def gives_up(self, attempts: int) -> bool:
        """After the ``attempts``-th failed attempt: is the delivery ``failed``?"""
        return attempts >= self.max_attempts

    def retry_delay(self, attempts: int, rand: Callable[[], float] = random.random) -> float:
        return backoff(attempts, self.base_seconds, self.cap_seconds, rand)

    def pause(self, failed_attempts_in_a_row: int, rand: Callable[[], float] = random.random) -> float | None:
        """How long to leave a receiver alone after that many failed attempts in a row
        (``None``: not yet; one failure among successes is no reason to stop sending)."""
        over = failed_attempts_in_a_row - self.pause_after_failed_attempts + 1
        return backoff(over, self.base_seconds, self.cap_seconds, rand) if over >= 1 else None

    def deactivates(self, failed_deliveries_in_a_row: int) -> bool:
        return failed_deliveries_in_a_row >= self.deactivate_after_failed_deliveries
