"""X-CRM-Signature (CONTRACT §6): HMAC-SHA256 over "<t>." + the raw body, with a timestamp."""
from __future__ import annotations

import hashlib
import hmac

from webhook_service.domain import signing

BODY = '{"event_id":"e-1","event_type":"customer.updated","data":{"name":"上海普全"}}'.encode()


def test_the_header_is_t_and_the_hex_hmac_of_timestamp_dot_body():
    header = signing.signature_header("whsec_k", BODY, 1_700_000_000)
    expected = hmac.new(b"whsec_k", b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"


def test_a_signature_verifies_only_for_the_same_secret_body_and_a_recent_timestamp():
    header = signing.signature_header("whsec_k", BODY, 1_700_000_000)
    assert signing.verify("whsec_k", BODY, header, now=1_700_000_100)
    assert not signing.verify("whsec_other", BODY, header, now=1_700_000_100)
    assert not signing.verify("whsec_k", BODY + b" ", header, now=1_700_000_100)
    assert not signing.verify("whsec_k", BODY, header, now=1_700_000_301)   # replayed too late
    assert not signing.verify("whsec_k", BODY, header, now=1_699_999_699)   # from the future
    assert not signing.verify("whsec_k", BODY, header.replace("t=1700000000", "t=1700000001"), now=1_700_000_000)


def test_malformed_headers_are_refused_not_raised():
    for header in ("", "v1=abc", "t=abc,v1=abc", "t=1700000000", "garbage"):
        assert not signing.verify("whsec_k", BODY, header, now=1_700_000_000)


def test_secrets_are_random_and_long():
    secrets = {signing.new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) >= 40 for s in secrets)
