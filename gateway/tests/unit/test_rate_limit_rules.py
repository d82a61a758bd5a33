"""Rate-limit policies and the GCRA arithmetic (no I/O; a fake clock)."""
from __future__ import annotations

import asyncio

import pytest

from crm_common.config import ConfigError
from gateway.ratelimit import MemoryStore, Policy, RateLimiter, SharedFileStore, parse_policies, policy_for


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_defaults_give_integrators_ten_per_second_and_admins_a_high_limit():
    policies = parse_policies(None)
    assert policies["integrator"] == Policy("integrator", 10, 10)
    assert policies["default"] == Policy("default", 50, 100)
    assert policies["admin"].rate >= 1000


def test_env_json_overrides_role_by_role_and_null_means_unlimited():
    policies = parse_policies('{"integrator": {"rate": 2, "burst": 3}, "viewer": 5, "admin": null}')
    assert policies["integrator"] == Policy("integrator", 2, 3)
    assert policies["viewer"] == Policy("viewer", 5, 5)
    assert policies["admin"] is None
    assert policies["default"] == Policy("default", 50, 100)


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '{"x": {"burst": 3}}', '{"x": {"rate": 0}}'])
def test_invalid_configuration_is_refused(raw):
    with pytest.raises(ConfigError):
        parse_policies(raw)


def test_the_most_permissive_role_wins_and_unknown_roles_count_as_default():
    policies = parse_policies('{"admin": null}')
    assert policy_for(["integrator"], policies).name == "integrator"
    assert policy_for(["integrator", "viewer"], policies).name == "default"  # viewer -> default 50/s
    assert policy_for(["integrator", "admin"], policies) is None
    assert policy_for([], policies).name == "default"


class Limiter:
    """``RateLimiter`` called the way a test reads (its ``check`` is a coroutine)."""

    def __init__(self, limiter: RateLimiter):
        self.limiter = limiter

    def check(self, sub, roles):
        return asyncio.run(self.limiter.check(sub, roles))


def test_a_full_bucket_allows_the_burst_then_refuses_with_retry_after():
    clock = Clock()
    limiter = Limiter(RateLimiter({"integrator": Policy("integrator", 10, 10)}, MemoryStore(clock)))
    decisions = [limiter.check("u-1", ["integrator"]) for _ in range(11)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False]
    assert [d.remaining for d in decisions[:10]] == list(range(9, -1, -1))
    refused = decisions[-1]
    assert refused.headers()["Retry-After"] == "1" and refused.retry_after == pytest.approx(0.1)
    assert refused.headers()["X-RateLimit-Limit"] == "10"
    assert refused.headers()["X-RateLimit-Reset"] == "1"  # seconds until the bucket is full again
    # another caller has a bucket of its own
    assert limiter.check("u-2", ["integrator"]).allowed
    # after one interval one more request passes; after a full second the bucket is full
    clock.now += 0.1
    assert limiter.check("u-1", ["integrator"]).allowed
    assert not limiter.check("u-1", ["integrator"]).allowed
    clock.now += 1.0
    assert limiter.check("u-1", ["integrator"]).remaining == 9


def test_unlimited_roles_get_no_decision():
    limiter = Limiter(RateLimiter(parse_policies('{"admin": null}'), MemoryStore()))
    assert limiter.check("root", ["admin"]) is None


def test_workers_sharing_the_table_file_count_one_bucket(tmp_path):
    """Two SharedFileStore instances on one file, as two gunicorn workers have."""
    clock = Clock()
    path = str(tmp_path / "ratelimit.table")
    workers = [Limiter(RateLimiter({"integrator": Policy("integrator", 10, 10)}, SharedFileStore(path, clock)))
               for _ in range(2)]
    decisions = [workers[i % 2].check("u-1", ["integrator"]) for i in range(12)]
    assert [d.allowed for d in decisions] == [True] * 10 + [False, False]
    assert [d.remaining for d in decisions[:10]] == list(range(9, -1, -1))
    assert decisions[-1].headers()["Retry-After"] == "1"
    assert workers[1].check("u-2", ["integrator"]).remaining == 9  # another caller, another bucket
    clock.now += 1.0
    assert workers[0].check("u-1", ["integrator"]).remaining == 9  # full again after a second


def test_a_full_table_window_takes_over_the_bucket_nearest_to_full(tmp_path):
    clock = Clock()
    store = SharedFileStore(str(tmp_path / "t"), clock, slots=SharedFileStore.PROBE)  # one window
    limiter = Limiter(RateLimiter({"default": Policy("default", 1, 5)}, store))
    for i in range(SharedFileStore.PROBE):  # every slot holds a live bucket
        for _ in range(1 + i % 3):
            limiter.check(f"u-{i}", ["viewer"])
    assert limiter.check("newcomer", ["viewer"]).remaining == 4  # a slot was taken over for it
    assert limiter.check("newcomer", ["viewer"]).remaining == 3
    clock.now += 10  # every bucket full again: each slot is free for anyone
    assert all(limiter.check(f"late-{i}", ["viewer"]).remaining == 4 for i in range(SharedFileStore.PROBE))
