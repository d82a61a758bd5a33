"""Event patterns of a subscription: `*`, a family `customer.*`, or exact CONTRACT §5 types."""
from __future__ import annotations

import pytest

from crm_common.events import EVENT_TYPES
from webhook_service.domain import patterns


@pytest.mark.parametrize("pattern", ["*", "customer.*", "viewing.*", "order.*", *sorted(EVENT_TYPES)])
def test_valid_patterns(pattern):
    assert patterns.pattern_error(pattern) is None


@pytest.mark.parametrize("pattern", ["customer", "customer.", "customer.**", "customers.*", "*.updated",
                                     "customer.merged", "webhook.ping", "Customer.*", "", " customer.*"])
def test_invalid_patterns_are_named_in_the_error(pattern):
    error = patterns.pattern_error(pattern)
    assert error and repr(pattern) in error


def test_matching():
    assert patterns.matches(["customer.*"], "customer.updated")
    assert not patterns.matches(["customer.*"], "viewing.recorded")
    assert patterns.matches(["viewing.recorded", "order.recorded"], "order.recorded")
    assert not patterns.matches(["viewing.recorded"], "viewing.updated")
    assert all(patterns.matches(["*"], t) for t in EVENT_TYPES)
    assert patterns.matches(["order.recorded"], patterns.PING)  # a ping reaches every subscription


def test_normalise_keeps_each_pattern_once_in_a_stable_order():
    assert patterns.normalise(["viewing.*", "customer.*", "viewing.*"]) == ["customer.*", "viewing.*"]
