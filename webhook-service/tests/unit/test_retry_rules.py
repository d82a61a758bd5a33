"""Backoff with jitter, giving up, pausing a failing receiver, deactivating a subscription."""
from __future__ import annotations

import random

import pytest

from webhook_service.domain.retry import MIN_ATTEMPTS, RetryPolicy, backoff


@pytest.mark.parametrize("step, nominal", [(1, 30), (2, 60), (3, 120), (4, 240), (8, 3840)])
def test_each_delay_doubles_from_the_base_within_25_percent_jitter(step, nominal):
    assert backoff(step, 30, 10_000, rand=lambda: 0.0) == pytest.approx(nominal * 0.75)
    assert backoff(step, 30, 10_000, rand=lambda: 0.5) == pytest.approx(nominal)
    assert backoff(step, 30, 10_000, rand=lambda: 0.999999) == pytest.approx(nominal * 1.25, rel=1e-5)
    rng = random.Random(step)
    samples = [backoff(step, 30, 10_000, rand=rng.random) for _ in range(2000)]
    assert nominal * 0.75 <= min(samples) < nominal * 0.8
    assert nominal * 1.2 < max(samples) <= nominal * 1.25
    assert len(set(samples)) > 1900  # spread out: retries of many deliveries do not align


def test_the_cap_bounds_the_delay_before_jitter_even_after_many_failures():
    for step in (10, 20, 64, 1000):
        assert backoff(step, 30, 3600, rand=lambda: 0.999999) <= 3600 * 1.25
        assert backoff(step, 30, 3600, rand=lambda: 0.0) == pytest.approx(3600 * 0.75)


def test_a_delivery_is_given_up_after_max_attempts_which_is_at_least_eight():
    policy = RetryPolicy()
    assert policy.max_attempts == MIN_ATTEMPTS == 8
    assert [policy.gives_up(n) for n in range(1, 10)] == [False] * 7 + [True] * 2


def test_a_receiver_is_paused_only_after_several_failures_in_a_row_and_longer_each_time():
    policy = RetryPolicy(base_seconds=1, cap_seconds=100, pause_after_failed_attempts=5)
    assert [policy.pause(n, rand=lambda: 0.5) for n in range(1, 5)] == [None] * 4
    assert [policy.pause(n, rand=lambda: 0.5) for n in range(5, 9)] == [1, 2, 4, 8]


def test_a_subscription_is_deactivated_after_the_configured_deliveries_given_up_in_a_row():
    policy = RetryPolicy(deactivate_after_failed_deliveries=3)
    assert [policy.deactivates(n) for n in range(1, 5)] == [False, False, True, True]
