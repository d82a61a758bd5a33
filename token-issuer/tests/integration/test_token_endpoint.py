"""POST /oauth/token (RFC 6749 §4.4): tokens for good credentials, RFC 6749 §5.2 errors for
everything else, and the guessing limits checked before any secret is."""
from __future__ import annotations

import time
import uuid

import jwt
import pytest
import redis

from crm_common.config import DEFAULT_JWT_AUDIENCE, DEFAULT_JWT_ISSUER
from token_issuer.adapters.guesslimit import GuessLimiter, Limits, RedisCounters

TEST_REDIS_URL = "redis://127.0.0.1:6379/5"


def test_good_credentials_by_basic_or_form_get_a_short_lived_signed_token(client, new_client, ask_token):
    creds = new_client(roles=("integrator",), factories=("F1", "F2"), domains=("D1",))
    for use_basic in (True, False):
        resp = ask_token(creds, use_basic=use_basic)
        assert resp.status_code == 200, resp.get_json()
        assert resp.headers["Cache-Control"] == "no-store" and resp.headers["Pragma"] == "no-cache"
        body = resp.get_json()
        assert set(body) == {"access_token", "token_type", "expires_in"}
        assert body["token_type"] == "Bearer" and body["expires_in"] == 600
    header = jwt.get_unverified_header(body["access_token"])
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"] and header["typ"] == "at+jwt"
    assert claims["sub"] == f"client:{creds['client_id']}" and claims["client_id"] == creds["client_id"]
    assert (claims["roles"], claims["factories"], claims["domains"]) == (["integrator"], ["F1", "F2"], ["D1"])
    assert claims["iss"] == DEFAULT_JWT_ISSUER and claims["aud"] == DEFAULT_JWT_AUDIENCE
    assert claims["exp"] - claims["iat"] == 600 and len(claims["jti"]) == 32
    jwks = client.get("/.well-known/jwks.json").get_json()
    assert header["kid"] in {k["kid"] for k in jwks["keys"]}


@pytest.mark.parametrize("how, error, status", [
    (dict(json={"grant_type": "client_credentials"}), "invalid_request", 400),
    (dict(data="grant_type=client_credentials&grant_type=client_credentials",
          content_type="application/x-www-form-urlencoded"), "invalid_request", 400),
    (dict(data={"grant_type": "password", "username": "a", "password": "b"}), "unsupported_grant_type", 400),
    (dict(data={"client_id": "ac_x", "client_secret": "y"}), "invalid_request", 400),
    (dict(data={"grant_type": "client_credentials"}), "invalid_client", 401),
    (dict(data={"grant_type": "client_credentials", "client_id": "ac_x", "client_secret": "y"},
          headers={"Authorization": "Basic YWNfeDp5"}), "invalid_request", 400),
    (dict(data={"grant_type": "client_credentials"}, headers={"Authorization": "Bearer abc"}), "invalid_client", 401),
    (dict(data={"grant_type": "client_credentials"}, headers={"Authorization": "Basic !!!"}), "invalid_client", 401),
    (dict(data={"grant_type": "client_credentials"}, query_string={"client_secret": "y"}), "invalid_request", 400),
    # text no field can hold (schemathesis found the API envelope here instead of RFC 6749's)
    (dict(data="grant_type=client_credentials&client_id=a%00b&client_secret=y",
          content_type="application/x-www-form-urlencoded"), "invalid_request", 400),
    (dict(data="grant_type=client_credentials&x%F2%99%8D%B7=F%00y", content_type="application/x-www-form-urlencoded"),
     "invalid_request", 400),
])
def test_malformed_requests_get_rfc_6749_error_bodies(client, how, error, status):
    resp = client.post("/oauth/token", **how)
    assert resp.status_code == status
    body = resp.get_json()
    assert body["error"] == error and isinstance(body["error_description"], str)
    assert set(body) == {"error", "error_description"}
    assert resp.headers["Cache-Control"] == "no-store"
    if status == 401 and "Authorization" in how.get("headers", {}):
        assert resp.headers["WWW-Authenticate"].startswith("Basic ")


def test_a_wrong_secret_an_unknown_client_a_rotated_or_revoked_secret_are_invalid_client(client, admin,
                                                                                         new_client, ask_token):
    creds = new_client()
    wrong = ask_token({**creds, "client_secret": creds["client_secret"] + "x"})
    assert wrong.status_code == 401 and wrong.get_json()["error"] == "invalid_client"
    assert wrong.headers["WWW-Authenticate"].startswith("Basic ")
    by_form = ask_token({**creds, "client_secret": "nope"}, use_basic=False)
    assert by_form.status_code == 401 and "WWW-Authenticate" not in by_form.headers
    assert ask_token({"client_id": "ac_nobody", "client_secret": "x"}).status_code == 401
    rotated = client.post(f"/api/v1/api-clients/{creds['client_id']}/rotate-secret", headers=admin).get_json()["data"]
    assert ask_token(creds).status_code == 401                      # the old secret stopped working
    assert ask_token(rotated).status_code == 200
    client.post(f"/api/v1/api-clients/{creds['client_id']}/revoke", headers=admin)
    revoked = ask_token(rotated)
    assert revoked.status_code == 401 and revoked.get_json()["error"] == "invalid_client"


def test_guessing_one_clients_secret_is_refused_before_the_secrets_are_checked(app, new_client, ask_token):
    creds = new_client()
    limit = app.extensions["issuer"].limiter.limits.per_client
    answers, started = [], time.perf_counter()
    for n in range(100):  # a new address each time: only the per-client counter stops this
        answers.append(ask_token({**creds, "client_secret": f"guess-{n}"}, address=f"203.0.113.{n}"))
    statuses = [a.status_code for a in answers]
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    assert answers[-1].get_json()["error"] == "rate_limited" and int(answers[-1].headers["Retry-After"]) > 0
    # while the window is open, even the right secret waits (the guesser learns nothing)
    assert ask_token(creds, address="203.0.113.250").status_code == 429
    print(f"100 guesses: {statuses.count(401)} checked, {statuses.count(429)} refused unchecked, "
          f"{time.perf_counter() - started:.2f} s")


def test_guessing_from_one_address_is_refused_whatever_the_client(app, new_client, ask_token):
    limit = app.extensions["issuer"].limiter.limits.per_address
    address = f"192.0.2.{uuid.uuid4().int % 250}"
    statuses = [ask_token({"client_id": f"ac_{n:04d}", "client_secret": "x"}, address=address).status_code
                for n in range(limit + 5)]
    assert statuses[:limit] == [401] * limit and set(statuses[limit:]) == {429}
    assert ask_token(new_client(), address="192.0.2.251").status_code == 200  # others are not affected


def test_with_redis_every_worker_shares_the_failure_counters():
    client = redis.Redis.from_url(TEST_REDIS_URL)
    prefix = f"test:issuer:{uuid.uuid4().hex}"
    try:
        workers = [GuessLimiter(Limits(per_client=4, per_address=100, window=60), RedisCounters(TEST_REDIS_URL),
                                prefix) for _ in range(2)]
        for n in range(4):
            assert workers[n % 2].retry_after("ac_1", None) is None
            workers[n % 2].failed("ac_1", "10.1.1.1")
        assert workers[0].retry_after("ac_1", None) is not None
        assert 0 < workers[1].retry_after("ac_1", None) <= 60
        workers[1].succeeded("ac_1")
        assert workers[0].retry_after("ac_1", None) is None
    finally:
        for key in client.scan_iter(f"{prefix}:*"):
            client.delete(key)
        client.close()


def test_when_redis_is_unreachable_the_limits_fall_back_to_memory_not_to_none():
    limiter = GuessLimiter(Limits(per_client=2, per_address=100, window=60),
                           RedisCounters("redis://127.0.0.1:1/0", timeout=0.1))
    for _ in range(2):
        assert limiter.retry_after("ac_1", None) is None
        limiter.failed("ac_1", None)
    assert limiter.retry_after("ac_1", None) is not None
