"""The token request's checks before any secret is looked at, and the guessing limits (no I/O)."""
from __future__ import annotations

import pytest

from token_issuer.adapters.guesslimit import GuessLimiter, Limits, MemoryCounters
from token_issuer.service_layer.tokens import OAuthError, TokenRequest, check_shape


def _request(**kw) -> TokenRequest:
    base = dict(grant_type="client_credentials", client_id="ac_1", client_secret="s", basic_auth=False,
                address="10.0.0.1")
    return TokenRequest(**{**base, **kw})


@pytest.mark.parametrize("changes, error, status", [
    ({"grant_type": None}, "invalid_request", 400),
    ({"grant_type": "password"}, "unsupported_grant_type", 400),
    ({"grant_type": "authorization_code"}, "unsupported_grant_type", 400),
    ({"scope": "customers:read"}, "invalid_scope", 400),
    ({"client_secret": None}, "invalid_client", 401),
    ({"client_id": None, "client_secret": None}, "invalid_client", 401),
])
def test_malformed_requests_are_refused_with_rfc_6749_errors(changes, error, status):
    with pytest.raises(OAuthError) as refused:
        check_shape(_request(**changes))
    assert (refused.value.error, refused.value.status) == (error, status)


def test_invalid_client_names_basic_in_www_authenticate_only_when_basic_was_used():
    with pytest.raises(OAuthError) as basic:
        check_shape(_request(client_secret=None, basic_auth=True))
    assert basic.value.headers["WWW-Authenticate"].startswith("Basic ")
    with pytest.raises(OAuthError) as form:
        check_shape(_request(client_secret=None))
    assert "WWW-Authenticate" not in form.value.headers


class Clock:
    now = 0.0

    def __call__(self):
        return self.now


def test_failures_are_counted_per_client_and_per_address_in_a_window():
    clock = Clock()
    limiter = GuessLimiter(Limits(per_client=3, per_address=5, window=60), MemoryCounters(clock))
    for _ in range(3):
        assert limiter.retry_after("ac_1", "10.0.0.1") is None
        limiter.failed("ac_1", "10.0.0.1")
    assert limiter.retry_after("ac_1", "10.0.0.9") == 60      # this client, from anywhere
    assert limiter.retry_after("ac_2", "10.0.0.1") is None    # another client from the same address
    limiter.failed("ac_2", "10.0.0.1")
    limiter.failed("ac_3", "10.0.0.1")
    assert limiter.retry_after("ac_4", "10.0.0.1") == 60      # the address used up its 5
    clock.now = 45
    assert limiter.retry_after("ac_1", "10.0.0.9") == 15
    clock.now = 61
    assert limiter.retry_after("ac_1", "10.0.0.1") is None    # the window closed


def test_a_success_clears_its_clients_counter_but_not_the_addresss():
    limiter = GuessLimiter(Limits(per_client=2, per_address=3, window=60), MemoryCounters(Clock()))
    limiter.failed("ac_1", "10.0.0.1")
    limiter.failed("ac_1", "10.0.0.1")
    limiter.succeeded("ac_1")
    assert limiter.retry_after("ac_1", None) is None
    limiter.failed("ac_9", "10.0.0.1")
    assert limiter.retry_after(None, "10.0.0.1") == 60
