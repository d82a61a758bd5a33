"""Issue 17: integrator credentials through the running set (gateway, customer-service,
token-issuer under gunicorn on PostgreSQL).

An admin creates an API client; the integrator exchanges its credentials at
``POST /oauth/token`` for an EdDSA token and calls the external API with it; the token is
403 outside its role; after revocation it is 401 at the gateway and at customer-service
directly within the stated bound; after a key rotation old and new tokens both work; a
token of an unknown key is 401; in production mode HS256 is 401 and guessing a secret
is refused with 429."""
from __future__ import annotations

import base64
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import ed25519

from crm_testing import Stack, auth_headers, make_token, wait_for

pytestmark = pytest.mark.system

REVOCATION_BOUND = 30  # seconds: REVOCATION_MAX_AGE_SECONDS, the README's promise


def create_client(base: str, admin: dict, **grant) -> dict:
    body = {"name": f"ERP {uuid.uuid4().hex[:6]}", "roles": ["integrator"], "factories": ["*"], "domains": ["*"],
            **grant}
    resp = requests.post(f"{base}/api/v1/api-clients", json=body, headers=admin, timeout=30)
    assert resp.status_code == 201, resp.text
    return resp.json()["data"]


def get_token(base: str, creds: dict) -> requests.Response:
    basic = base64.b64encode(f"{creds['client_id']}:{creds['client_secret']}".encode()).decode()
    return requests.post(f"{base}/oauth/token", data={"grant_type": "client_credentials"},
                         headers={"Authorization": f"Basic {basic}"}, timeout=30)


def bearer(token: str, factory: str | None = None) -> dict:
    return {"Authorization": f"Bearer {token}", **({"X-Factory-Id": factory} if factory else {})}


def upsert_customer(base: str, token: str, factory: str) -> requests.Response:
    return requests.post(f"{base}/api/external/customers", headers=bearer(token, factory), timeout=30, json={
        "userId": f"u-{uuid.uuid4().hex[:10]}", "name": "外部客户"})


@pytest.fixture
def admin() -> dict:
    return auth_headers(roles=("admin",), sub="u-admin", name="管理员")


def test_an_integrator_gets_a_token_and_calls_the_external_api_but_nothing_else(stack, admin, factory):
    creds = create_client(stack.gateway, admin, factories=[factory])
    resp = get_token(stack.gateway, creds)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    body = resp.json()
    assert body["token_type"] == "Bearer" and 0 < body["expires_in"] <= 600
    token = body["access_token"]
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    created = upsert_customer(stack.gateway, token, factory)
    assert created.status_code in (200, 201), created.text
    assert created.json()["success"] is True
    # the same token is 403 outside /api/external (CONTRACT §3: integrators reach nothing else)
    assert requests.get(f"{stack.gateway}/api/v1/customers", headers=bearer(token, factory),
                        timeout=30).status_code == 403
    assert requests.get(f"{stack.gateway}/api/v1/api-clients", headers=bearer(token), timeout=30).status_code == 403
    # and customer-service checks it again on its own
    assert upsert_customer(stack.url("customer"), token, factory).status_code in (200, 201)
    assert requests.get(f"{stack.url('customer')}/api/v1/customers", headers=bearer(token, factory),
                        timeout=30).status_code == 403


def test_a_revoked_clients_token_is_401_at_the_gateway_and_at_the_service_within_the_bound(stack, admin, factory):
    creds = create_client(stack.gateway, admin, factories=[factory])
    token = get_token(stack.gateway, creds).json()["access_token"]
    assert upsert_customer(stack.gateway, token, factory).status_code in (200, 201)
    assert upsert_customer(stack.url("customer"), token, factory).status_code in (200, 201)
    revoked_at = time.monotonic()
    resp = requests.post(f"{stack.gateway}/api/v1/api-clients/{creds['client_id']}/revoke", headers=admin, timeout=30)
    assert resp.status_code == 200 and resp.json()["data"]["status"] == "revoked"
    seen: dict[str, float] = {}

    def refused_everywhere():
        for name, base in (("gateway", stack.gateway), ("customer-service", stack.url("customer"))):
            if name not in seen and upsert_customer(base, token, factory).status_code == 401:
                seen[name] = time.monotonic() - revoked_at
        return len(seen) == 2
    assert wait_for(refused_everywhere, timeout=REVOCATION_BOUND, interval=0.5), f"still accepted: {seen}"
    print("revoked client refused after: " + ", ".join(f"{k} {v:.1f} s" for k, v in seen.items()))
    assert get_token(stack.gateway, creds).status_code == 401  # and it gets no new token


def test_after_a_key_rotation_old_and_new_tokens_both_work(stack, admin, factory):
    creds = create_client(stack.gateway, admin, factories=[factory])
    old = get_token(stack.gateway, creds).json()["access_token"]
    assert upsert_customer(stack.url("customer"), old, factory).status_code in (200, 201)  # old kid cached there
    cli = Path(sys.executable).parent / "token-issuer"
    # Published at once, signing 6 s later: longer than JWKS_MIN_REFRESH_SECONDS (5), so every
    # verifier can fetch it before its first token arrives (the README's rotation procedure).
    rotated = subprocess.run([str(cli), "rotate-key", "--activate-in", "6"], env=stack.service_env("issuer"),
                             capture_output=True, text=True, timeout=120)
    assert rotated.returncode == 0, rotated.stderr
    old_kid = jwt.get_unverified_header(old)["kid"]
    new = wait_for(lambda: (t := get_token(stack.gateway, creds).json()["access_token"])
                   and jwt.get_unverified_header(t)["kid"] != old_kid and t, timeout=20, interval=0.5)
    assert new, "the new key never started signing"
    new_kid = jwt.get_unverified_header(new)["kid"]
    kids = {k["kid"] for k in requests.get(f"{stack.gateway}/.well-known/jwks.json", timeout=30).json()["keys"]}
    assert {old_kid, new_kid} <= kids  # the old key stays published until its tokens expire
    for base in (stack.gateway, stack.url("customer")):
        for token in (old, new):
            assert upsert_customer(base, token, factory).status_code in (200, 201), (base, token == new)


def test_a_token_signed_by_an_unknown_key_is_401(stack):
    stranger = ed25519.Ed25519PrivateKey.generate()
    now = int(time.time())
    claims = {"sub": "client:ac_forged", "name": "x", "roles": ["admin"], "factories": ["*"], "domains": ["*"],
              "client_id": "ac_forged", "iss": "crm-token-issuer", "aud": "crm-api", "iat": now, "exp": now + 300}
    real_kid = requests.get(f"{stack.gateway}/.well-known/jwks.json", timeout=30).json()["keys"][0]["kid"]
    for kid in ("unknown-kid", real_kid):  # a kid nobody published, and a real kid with another key
        forged = jwt.encode(claims, stranger, algorithm="EdDSA", headers={"kid": kid})
        for base in (stack.gateway, stack.url("customer")):
            resp = requests.get(f"{base}/api/v1/customers", headers=bearer(forged), timeout=30)
            assert resp.status_code == 401, (base, kid, resp.text)


def test_analytics_rebuild_gets_its_token_by_client_credentials(stack, admin):
    creds = create_client(stack.gateway, admin, roles=["admin"], name="analytics-service rebuild")
    env = {**stack.env(), "SERVICE_CLIENT_ID": creds["client_id"], "SERVICE_CLIENT_SECRET": creds["client_secret"],
           "JWT_SECRET": "not-the-one-the-services-use-0123456789"}  # an HS256 token would be refused
    cli = Path(sys.executable).parent / "analytics-service"
    done = subprocess.run([str(cli), "rebuild", "--page-size", "500"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


# --- production mode: its own small set (gateway, customer-service, issuer) -------------------

@pytest.fixture(scope="module")
def production():
    with Stack(services=["customer", "issuer"], workers=[], web_workers=2,
               extra_env={"CRM_ENV": "production", "RATE_LIMITS": '{"default": {"rate": 500, "burst": 1000}}'}) as running:
        cli = Path(sys.executable).parent / "token-issuer"
        made = subprocess.run([str(cli), "create-client", "--name", "ops", "--role", "admin"],
                              env=running.service_env("issuer"), capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        import json
        running.admin_client = json.loads(made.stdout)
        yield running


def test_in_production_hs256_tokens_are_401_and_issuer_tokens_work(production, factory):
    hs256 = make_token(roles=("admin",))  # signed with the JWT_SECRET every process was given
    for base in (production.gateway, production.url("customer")):
        resp = requests.get(f"{base}/api/v1/customers", headers=bearer(hs256), timeout=30)
        assert resp.status_code == 401, resp.text
    admin_token = get_token(production.gateway, production.admin_client).json()["access_token"]
    creds = create_client(production.gateway, bearer(admin_token), factories=[factory])
    token = get_token(production.gateway, creds).json()["access_token"]
    assert upsert_customer(production.gateway, token, factory).status_code in (200, 201)


def test_a_hundred_wrong_secrets_are_refused_with_429_before_they_are_all_checked(production):
    creds = production.admin_client
    basic = lambda secret: base64.b64encode(f"{creds['client_id']}:{secret}".encode()).decode()  # noqa: E731
    statuses, started = [], time.monotonic()
    for n in range(100):
        resp = requests.post(f"{production.gateway}/oauth/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": f"Basic {basic(f'guess-{n}')}"}, timeout=30)
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            assert resp.json()["error"] == "rate_limited" and int(resp.headers["Retry-After"]) > 0
    checked, refused = statuses.count(401), statuses.count(429)
    print(f"100 wrong secrets: {checked} checked (401), {refused} refused unchecked (429), "
          f"{time.monotonic() - started:.1f} s")
    assert checked + refused == 100 and refused >= 50
    assert statuses[-10:] == [429] * 10
