"""Pure rules of the tenant customer API (seed 001): activation on the status state
machine. No database."""
import pytest

from customer_service.domain import rules

# --- activation ----------------------------------------------------------------------------

@pytest.mark.parametrize("current, is_active, target", [
    ("active", True, None), ("inactive", True, "active"), ("potential", True, "active"),
    ("frozen", True, "active"), ("blacklisted", True, "active"),
    ("active", False, "inactive"), ("inactive", False, None),
    ("frozen", False, None), ("blacklisted", False, None), ("potential", False, None),
])
def test_activation_never_lifts_a_freeze_or_blacklisting_when_disabling(current, is_active, target):
    assert rules.status_for_activation(current, is_active) == target


def test_enabling_a_blacklisted_customer_is_refused_by_the_state_machine():
    assert not rules.transition_allowed("blacklisted", rules.status_for_activation("blacklisted", True))
