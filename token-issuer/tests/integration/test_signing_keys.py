"""Signing keys over time (the issuer's clock moved by the test): the first key, rotation
with the new key published before it signs, the old key published until its tokens
expired, pruning; tokens verified the way every service does (crm_common's verifier over
this issuer's JWKS and revocation list)."""
from __future__ import annotations

import datetime as dt
import threading

import jwt
import pytest

from crm_common.auth import TokenVerifier
from crm_common.errors import Unauthorized
from crm_common.jwks import JwksCache, RevocationList
from crm_testing import create_database, drop_database
from token_issuer.adapters.keystore import KeyDecryptionFailed, generate_kek
from token_issuer.cli import SERVICE_DIR
from token_issuer.service_layer import keys

from .conftest import Clock, issuer_settings


@pytest.fixture
def fresh_issuer():
    """An issuer of its own (empty database, own clock): key tests change its keys."""
    from crm_common.migrations import upgrade_head
    from token_issuer.app import create_app
    url = create_database("crm_issuer_keys")
    try:
        upgrade_head(SERVICE_DIR, url)
        app = create_app(issuer_settings(url))
        clock = Clock()
        app.extensions["issuer"].now = clock
        yield app, clock, url
    finally:
        drop_database(url)


def services_verifier(app, wall_clock) -> TokenVerifier:
    """What every service builds, fetching from this app in process."""
    http = app.test_client()

    def fetch(url, timeout, etag=None):
        return http.get(url).get_json(), None
    parts = app.extensions["issuer"]
    return TokenVerifier(hs256_secret=None,
                         keys=JwksCache("/.well-known/jwks.json", fetch=fetch, min_refresh=0, clock=wall_clock),
                         revocations=RevocationList("/internal/revoked-clients", fetch=fetch),
                         issuer=parts.settings.jwt_issuer, audience=parts.settings.jwt_audience,
                         leeway=120)  # the issuer's clock runs ahead of the real one in these tests


def _token(app, admin_headers) -> str:
    http = app.test_client()
    creds = http.post("/api/v1/api-clients", headers=admin_headers, json={
        "name": "k", "roles": ["integrator"], "factories": ["F1"], "domains": ["*"]}).get_json()["data"]
    resp = http.post("/oauth/token", data={"grant_type": "client_credentials", "client_id": creds["client_id"],
                                           "client_secret": creds["client_secret"]})
    return resp.get_json()["access_token"]


def _kids(app) -> list[str]:
    return [k["kid"] for k in app.test_client().get("/.well-known/jwks.json").get_json()["keys"]]


def test_rotation_publishes_first_signs_later_and_keeps_the_old_key_until_its_tokens_expired(fresh_issuer, admin):
    app, clock, _ = fresh_issuer
    parts = app.extensions["issuer"]
    first = _kids(app)
    assert len(first) == 1  # made at the first start
    old_token = _token(app, admin)
    new = keys.rotate_key(parts.uow_factory(), parts.keys, parts.key_algorithm, clock(), dt.timedelta(seconds=30))
    assert _kids(app) == [first[0], new.kid]                              # published at once ...
    assert jwt.get_unverified_header(_token(app, admin))["kid"] == first[0]  # ... not signing yet
    clock.advance(30)
    new_token = _token(app, admin)
    assert jwt.get_unverified_header(new_token)["kid"] == new.kid
    check = services_verifier(app, lambda: 0.0)
    assert check.verify(old_token).sub.startswith("client:") and check.verify(new_token).sub.startswith("client:")
    # the old key stays while a token it signed may still be valid (TTL + leeway after it retired)
    clock.advance(parts.token_ttl + parts.settings.jwt_leeway_seconds - 1)
    assert first[0] in _kids(app)
    assert keys.prune_keys(parts.uow_factory(), clock(), parts.token_lifetime) == []
    clock.advance(1)
    assert _kids(app) == [new.kid]
    assert keys.prune_keys(parts.uow_factory(), clock(), parts.token_lifetime) == [first[0]]
    states = {k["kid"]: k["state"] for k in keys.key_states(parts.uow_factory(), clock(), parts.token_lifetime)}
    assert states == {new.kid: "signing"}


def test_the_same_token_is_refused_once_its_client_is_revoked(fresh_issuer, admin):
    app, _, _ = fresh_issuer
    token = _token(app, admin)
    check = services_verifier(app, lambda: 0.0)
    principal = check.verify(token)
    client_id = principal.claims["client_id"]
    app.test_client().post(f"/api/v1/api-clients/{client_id}/revoke", headers=admin)
    assert check.revocations.refresh() is True
    with pytest.raises(Unauthorized):
        check.verify(token)


def test_concurrent_first_starts_make_one_key(fresh_issuer):
    app, clock, url = fresh_issuer
    parts = app.extensions["issuer"]
    with parts.uow_factory() as uow:  # back to an issuer that has never run
        for key in uow.keys.all():
            uow.keys.delete(key)
        uow.commit()
    created = []
    barrier = threading.Barrier(4)

    def start():
        barrier.wait()
        created.append(keys.ensure_signing_key(parts.uow_factory(), parts.keys, "EdDSA", clock()))
    threads = [threading.Thread(target=start) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len([kid for kid in created if kid]) == 1 and len(_kids(app)) == 1


def test_another_kek_cannot_sign(fresh_issuer, admin):
    app, clock, url = fresh_issuer
    from token_issuer.app import create_app
    stranger = create_app(issuer_settings(url, kek=generate_kek()))
    with pytest.raises(KeyDecryptionFailed):
        keys.current_signer(stranger.extensions["issuer"].uow_factory(), stranger.extensions["issuer"].keys, clock())


def test_rs256_keys_verify_too(fresh_issuer, admin):
    app, clock, _ = fresh_issuer
    parts = app.extensions["issuer"]
    keys.rotate_key(parts.uow_factory(), parts.keys, "RS256", clock(), dt.timedelta(0))
    token = _token(app, admin)
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert services_verifier(app, lambda: 0.0).verify(token).roles == {"integrator"}
