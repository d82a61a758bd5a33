"""Issuer tokens and HS256 tokens through one verifier (CONTRACT §3), the JWKS cache and
the revocation list, with the issuer played by in-memory fakes and a fake clock (no I/O)."""
from __future__ import annotations

import threading
import time

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from crm_common.auth import NeedsIssuer, TokenCache, TokenVerifier, issue_token
from crm_common.config import ConfigError, Settings
from crm_common.errors import ServiceUnavailable, Unauthorized
from crm_common.jwks import FetchFailed, JwksCache, RevocationList

SECRET = "unit-secret-0123456789-0123456789-abcd"
ISS, AUD = "crm-token-issuer", "crm-api"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class Key:
    def __init__(self, kid: str, algorithm: str = "EdDSA"):
        self.kid, self.algorithm = kid, algorithm
        if algorithm == "EdDSA":
            self.private = ed25519.Ed25519PrivateKey.generate()
            jwk = OKPAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            jwk = RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}

    def sign(self, *, ttl: int = 600, kid: str | None = None, **claims) -> str:
        now = int(time.time())
        body = {"sub": "client:ac_1", "name": "ERP", "roles": ["integrator"], "factories": ["F1"],
                "domains": ["*"], "client_id": "ac_1", "iss": ISS, "aud": AUD, "iat": now, "exp": now + ttl,
                "jti": "j1", **claims}
        return jwt.encode({k: v for k, v in body.items() if v is not None}, self.private,
                          algorithm=self.algorithm, headers={"kid": kid or self.kid})


class FakeIssuer:
    """Answers fetches of the JWKS and of the revocation list, or fails them."""

    def __init__(self, *keys: Key):
        self.keys = list(keys)
        self.revoked: list[str] = []
        self.down = False
        self.calls: list[str] = []

    def fetch(self, url, timeout, etag=None):
        self.calls.append(url)
        if self.down:
            raise FetchFailed("ConnectionError")
        if url.endswith("jwks.json"):
            return {"keys": [k.jwk for k in self.keys]}, None
        return {"client_ids": list(self.revoked)}, None


def verifier(issuer: FakeIssuer, clock: Clock, hs256: str | None = None, **cache) -> TokenVerifier:
    keys = JwksCache("http://issuer/.well-known/jwks.json", fetch=issuer.fetch, clock=clock,
                     min_refresh=10, retry_after_failure=2, **cache)
    revocations = RevocationList("http://issuer/internal/revoked-clients", fetch=issuer.fetch, clock=clock,
                                 poll_interval=5, max_age=30)
    return TokenVerifier(hs256_secret=hs256, keys=keys, revocations=revocations, issuer=ISS, audience=AUD)


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_an_issuer_token_becomes_the_principal_of_its_claims(algorithm):
    key = Key("k1", algorithm)
    principal = verifier(FakeIssuer(key), Clock()).verify(key.sign())
    assert principal.sub == "client:ac_1" and principal.roles == {"integrator"} and principal.factories == {"F1"}


@pytest.mark.parametrize("claims", [{"iss": "someone-else"}, {"aud": "another-api"}, {"client_id": None},
                                    {"aud": None}, {"roles": "integrator"}, {"exp": int(time.time()) - 60}])
def test_issuer_tokens_with_a_wrong_issuer_audience_or_loose_claims_are_401(claims):
    key = Key("k1")
    with pytest.raises(Unauthorized):
        verifier(FakeIssuer(key), Clock()).verify(key.sign(**claims))


def test_a_token_signed_by_an_unknown_key_is_401_after_one_refresh():
    known, stranger = Key("k1"), Key("k-unknown")
    issuer, clock = FakeIssuer(known), Clock()
    check = verifier(issuer, clock)
    check.verify(known.sign())
    with pytest.raises(Unauthorized) as refused:
        check.verify(stranger.sign())
    assert refused.value.error_code == "TOKEN_INVALID"
    # ... and a key that names a known kid but is another key fails its signature
    with pytest.raises(Unauthorized):
        check.verify(stranger.sign(kid="k1"))


def test_a_new_kid_is_fetched_on_first_sight_but_forged_kids_do_not_hammer_the_issuer():
    old, new = Key("k1"), Key("k2")
    issuer, clock = FakeIssuer(old), Clock()
    check = verifier(issuer, clock)
    check.verify(old.sign())
    jwks_calls = lambda: sum(u.endswith("jwks.json") for u in issuer.calls)  # noqa: E731
    assert jwks_calls() == 1
    for _ in range(20):  # forged kids within the refresh interval: one more fetch at most
        with pytest.raises(Unauthorized):
            check.verify(Key("forged").sign())
    assert jwks_calls() == 1  # the first fetch was < 10 s ago
    clock.now += 11
    issuer.keys.append(new)   # the issuer rotated
    assert check.verify(new.sign()).sub == "client:ac_1"
    assert jwks_calls() == 2
    assert check.verify(old.sign()).sub == "client:ac_1"  # the old key still verifies


def test_requests_meeting_a_key_fetch_in_progress_wait_for_it_instead_of_401():
    """A freshly started worker gets a page's worth of requests with a new kid at once
    (the dashboard sends about twenty): one fetches, the others use what it fetched."""
    key = Key("k1")
    issuer, clock = FakeIssuer(key), Clock()
    fetching, release = threading.Event(), threading.Event()
    plain_fetch = issuer.fetch

    def slow_fetch(url, timeout, etag=None):
        if url.endswith("jwks.json"):
            fetching.set()
            assert release.wait(5)
        return plain_fetch(url, timeout, etag)

    issuer.fetch = slow_fetch
    check = verifier(issuer, clock)  # cold: no keys yet
    results: dict[str, object] = {}

    def verify(name):
        try:
            results[name] = check.verify(key.sign()).sub
        except Exception as exc:  # noqa: BLE001 - recorded for the assertion
            results[name] = exc

    first = threading.Thread(target=verify, args=("first",))
    first.start()
    assert fetching.wait(5)
    second = threading.Thread(target=verify, args=("second",))
    second.start()
    second.join(0.2)  # still waiting for the first one's fetch, not refused
    assert "second" not in results
    release.set()
    first.join(5)
    second.join(5)
    assert results == {"first": "client:ac_1", "second": "client:ac_1"}


def test_an_unreachable_issuer_is_503_with_retry_after_for_an_unknown_kid_never_401():
    key = Key("k1")
    issuer, clock = FakeIssuer(key), Clock()
    issuer.down = True
    check = verifier(issuer, clock)
    with pytest.raises(ServiceUnavailable) as unavailable:
        check.verify(key.sign())
    assert unavailable.value.headers["Retry-After"] == "2"
    # within the retry interval nobody asks again, and the answer stays 503
    calls = len(issuer.calls)
    with pytest.raises(ServiceUnavailable):
        check.verify(key.sign())
    assert len(issuer.calls) == calls
    issuer.down = False
    clock.now += 3
    assert check.verify(key.sign()).sub == "client:ac_1"


def test_a_revoked_client_is_refused_once_the_list_is_polled():
    key = Key("k1")
    issuer, clock = FakeIssuer(key), Clock()
    check = verifier(issuer, clock)
    check.verify(key.sign())
    issuer.revoked.append("ac_1")
    check.verify(key.sign())  # not yet polled: the list is 0 s old
    assert check.revocations.refresh() is True  # what the background poller does every 5 s
    with pytest.raises(Unauthorized) as refused:
        check.verify(key.sign())
    assert refused.value.error_code == "TOKEN_REVOKED"


def test_a_revocation_list_older_than_its_bound_refuses_issuer_tokens_with_503():
    key = Key("k1")
    issuer, clock = FakeIssuer(key), Clock()
    check = verifier(issuer, clock)
    check.verify(key.sign())
    issuer.down = True
    clock.now += 29
    check.verify(key.sign())  # 29 s old: still trusted
    clock.now += 2
    with pytest.raises(ServiceUnavailable):  # 31 s: a revocation might be missed
        check.verify(key.sign())
    issuer.down = False
    clock.now += 5
    assert check.verify(key.sign()).sub == "client:ac_1"


def test_hs256_is_accepted_only_where_a_secret_is_given():
    dev = issue_token(SECRET, sub="u1", roles=["admin"])
    assert verifier(FakeIssuer(), Clock(), hs256=SECRET).verify(dev).sub == "u1"
    issuer = FakeIssuer()
    with pytest.raises(Unauthorized):
        verifier(issuer, Clock(), hs256=None).verify(dev)
    assert issuer.calls == []  # refused without asking the issuer


@pytest.mark.parametrize("header, signer", [({"alg": "none"}, None), ({"alg": "HS384"}, SECRET * 2)])
def test_other_algorithms_are_401(header, signer):
    payload = {"sub": "u1", "roles": ["admin"], "exp": int(time.time()) + 60}
    token = jwt.encode(payload, signer, algorithm=header["alg"]) if signer else \
        jwt.api_jws.encode(b'{"sub": "u1"}', None, algorithm="none")
    with pytest.raises(Unauthorized):
        verifier(FakeIssuer(), Clock(), hs256=SECRET).verify(token)


def test_the_public_key_used_as_an_hmac_secret_is_refused():
    """The classic algorithm confusion: HS256 signed with the issuer's public key."""
    key = Key("k1")
    public_pem = key.jwk["x"]
    forged = jwt.encode({"sub": "u1", "roles": ["admin"], "exp": int(time.time()) + 60}, public_pem,
                        algorithm="HS256", headers={"kid": "k1"})
    with pytest.raises(Unauthorized):
        verifier(FakeIssuer(key), Clock(), hs256=None).verify(forged)
    with pytest.raises(Unauthorized):
        verifier(FakeIssuer(key), Clock(), hs256=SECRET).verify(forged)


def test_production_uses_no_hs256_secret_unless_allow_hs256():
    production = Settings.from_env("customer", {"CRM_ENV": "production", "JWT_SECRET": "x" * 40})
    assert production.jwt_secret is None and production.allow_hs256 is False
    allowed = Settings.from_env("customer", {"CRM_ENV": "production", "ALLOW_HS256": "1", "JWT_SECRET": "x" * 40})
    assert allowed.jwt_secret == "x" * 40
    with pytest.raises(ConfigError):
        Settings.from_env("customer", {"CRM_ENV": "production", "ALLOW_HS256": "maybe"})
    dev = Settings.from_env("customer", {})
    assert dev.allow_hs256 and dev.jwt_secret
    assert dev.jwks_url == "http://127.0.0.1:8006/.well-known/jwks.json"
    moved = Settings.from_env("customer", {"ISSUER_SERVICE_URL": "http://issuer:8006/"})
    assert moved.revocations_url == "http://issuer:8006/internal/revoked-clients"


# --- TokenCache: verified once per process; revocation, dropped keys and expiry still apply ---

class Counting:
    """A verifier that counts full verifications (signature and claims)."""

    def __init__(self, inner: TokenVerifier):
        self.inner = inner
        self.verified = 0
        self.keys, self.revocations = inner.keys, inner.revocations

    def verify_token(self, token, *, fetch=True):
        self.verified += 1
        return self.inner.verify_token(token, fetch=fetch)


def cache_for(issuer: FakeIssuer, clock: Clock, **kw) -> tuple[TokenCache, Counting]:
    counting = Counting(verifier(issuer, clock, hs256=SECRET))
    return TokenCache(counting, clock=clock, **kw), counting


def test_a_token_is_verified_once_then_answered_from_the_cache():
    key = Key("k1")
    cache, counting = cache_for(FakeIssuer(key), Clock())
    issuer_token = key.sign()
    dev_token = issue_token(SECRET, sub="u-1", roles=["admin"])
    for _ in range(3):
        assert cache.verify(issuer_token).sub == "client:ac_1"
        assert cache.verify(dev_token, fetch=False).sub == "u-1"
    assert counting.verified == 2


def test_a_cached_token_is_verified_again_once_it_expired():
    clock = Clock()
    cache, counting = cache_for(FakeIssuer(), clock)
    token = issue_token(SECRET, sub="u-1", ttl_seconds=60)
    cache.verify(token)
    cache.verify(token)
    assert counting.verified == 1
    clock.now = time.time() + 60 + 10  # the cache's clock: past exp and the leeway jwt allows
    cache.verify(token)  # not answered from the cache (jwt's real clock still accepts it)
    assert counting.verified == 2


def test_a_client_revoked_after_its_token_was_cached_is_refused():
    key = Key("k1")
    issuer = FakeIssuer(key)
    cache, _ = cache_for(issuer, Clock())
    token = key.sign()
    cache.verify(token)
    issuer.revoked.append("ac_1")
    cache.verifier.revocations.refresh()  # the poller's next round
    with pytest.raises(Unauthorized) as refused:
        cache.verify(token)
    assert refused.value.error_code == "TOKEN_REVOKED"


def test_a_token_whose_key_the_issuer_dropped_is_verified_again_and_refused():
    clock, old, new = Clock(), Key("k-old"), Key("k-new")
    issuer = FakeIssuer(old)
    cache, counting = cache_for(issuer, clock)
    token = old.sign()
    cache.verify(token)
    issuer.keys = [new]
    clock.now += 301
    cache.verifier.keys.refresh_if_old()  # the watcher's refresh after JWKS_MAX_AGE_SECONDS
    with pytest.raises(Unauthorized):
        cache.verify(token)
    assert counting.verified == 2


def test_without_fetching_a_stale_revocation_list_means_ask_where_blocking_is_allowed():
    clock, key = Clock(), Key("k1")
    issuer = FakeIssuer(key)
    cache, _ = cache_for(issuer, clock)
    token = key.sign()
    cache.verify(token)
    clock.now += 31  # the revocation list is older than REVOCATION_MAX_AGE_SECONDS
    calls = len(issuer.calls)
    with pytest.raises(NeedsIssuer):
        cache.verify(token, fetch=False)
    assert len(issuer.calls) == calls  # nothing was fetched
    assert cache.verify(token).sub == "client:ac_1"  # fetched, then answered
    assert len(issuer.calls) == calls + 1
    assert cache.verify(token, fetch=False).sub == "client:ac_1"


def test_the_cache_keeps_at_most_size_tokens_dropping_the_least_recently_used():
    cache, counting = cache_for(FakeIssuer(), Clock(), size=2)
    tokens = [issue_token(SECRET, sub=f"u-{i}") for i in range(3)]
    cache.verify(tokens[0])
    cache.verify(tokens[1])
    cache.verify(tokens[0])  # now the most recently used
    cache.verify(tokens[2])  # evicts tokens[1]
    assert counting.verified == 3
    cache.verify(tokens[0])
    assert counting.verified == 3
    cache.verify(tokens[1])
    assert counting.verified == 4


def test_a_forged_token_is_never_remembered():
    cache, counting = cache_for(FakeIssuer(), Clock())
    forged = issue_token("someone-elses-secret-0123456789-abcdefgh", sub="u-1")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            cache.verify(forged)
    assert counting.verified == 2
