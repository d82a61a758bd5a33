"""Secrets, their hash, key pairs and their encryption, key lifecycle rules: no I/O."""
from __future__ import annotations

import datetime as dt

import pytest

from crm_common.config import ConfigError, Settings
from token_issuer.adapters.keystore import (
    KeyDecryptionFailed,
    KeyEncryption,
    generate_kek,
    generate_key_pair,
    kek_from_settings,
    parse_kek,
    thumbprint,
)
from token_issuer.domain.credentials import SecretHasher, new_client_id, new_client_secret, plausible_client_id
from token_issuer.domain.model import SigningKey, check_grant, signing_key

T0 = dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.timezone.utc)


def test_a_secret_is_kept_only_as_an_argon2id_hash_with_its_parameters():
    hasher = SecretHasher()
    secret = new_client_secret()
    stored = hasher.hash(secret)
    assert secret not in stored and stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert hasher.verify(stored, secret)
    assert not hasher.verify(stored, secret + "x")
    assert not hasher.verify(None, secret)           # unknown client: the dummy hash is checked
    assert not hasher.verify("not-a-hash", secret)


def test_ids_and_secrets_are_random_url_safe_and_recognisable():
    ids = {new_client_id() for _ in range(100)}
    secrets = {new_client_secret() for _ in range(100)}
    assert len(ids) == len(secrets) == 100
    assert all(plausible_client_id(i) and i.startswith("ac_") for i in ids)
    assert all(s.startswith("crm_cs_") and len(s) >= 43 for s in secrets)
    assert not plausible_client_id("a" * 65) and not plausible_client_id("ac_1:x") and not plausible_client_id("")


def test_a_grant_takes_contract_roles_only_and_needs_factories_and_domains():
    grant = check_grant(["integrator", "integrator"], ["F1", " F2 "], ["*"])
    assert grant.roles == ("integrator",) and grant.factories == ("F1", "F2")
    with pytest.raises(Exception) as refused:
        check_grant(["superuser"], [], ["*"])
    assert set(refused.value.errors) == {"roles", "factories"}
    assert check_grant(["admin"], ["*"], ["*"]).roles == ("admin",)  # allowed, and audited


def test_kid_is_the_rfc_7638_thumbprint():
    # RFC 7638 §3.1's example key and its thumbprint
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
                "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaS"
                "qzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksIN"
                "HaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"}
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_a_key_pair_publishes_only_its_public_half(algorithm):
    pair = generate_key_pair(algorithm)
    assert pair.public_jwk["kid"] == pair.kid == thumbprint(pair.public_jwk)
    assert pair.public_jwk["alg"] == algorithm and pair.public_jwk["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi", "key_ops"} & set(pair.public_jwk)


def test_private_keys_decrypt_only_under_their_kek_and_kid():
    pair = generate_key_pair("EdDSA")
    kek = parse_kek(generate_kek())
    blob = KeyEncryption(kek).encrypt(pair.kid, pair.private_der)
    assert pair.private_der not in blob
    assert KeyEncryption(kek).decrypt(pair.kid, blob) is not None
    with pytest.raises(KeyDecryptionFailed):
        KeyEncryption(kek).decrypt("another-kid", blob)
    with pytest.raises(KeyDecryptionFailed):
        KeyEncryption(parse_kek(generate_kek())).decrypt(pair.kid, blob)


def test_the_kek_is_required_in_production_and_generated_once_in_development(tmp_path, monkeypatch):
    with pytest.raises(ConfigError):
        kek_from_settings(Settings.from_env("issuer", {"CRM_ENV": "production"}))
    with pytest.raises(ConfigError):
        parse_kek("too-short")
    monkeypatch.setenv("CRM_HOME", str(tmp_path))
    first = kek_from_settings(Settings.from_env("issuer", {}))
    assert kek_from_settings(Settings.from_env("issuer", {})) == first
    assert (tmp_path / "var" / "issuer.kek").stat().st_mode & 0o777 == 0o600
    given = generate_kek()
    assert kek_from_settings(Settings.from_env("issuer", {"ISSUER_KEY_ENCRYPTION_KEY": given})) == parse_kek(given)


def _key(generation: int, active_from: dt.datetime, retired_at: dt.datetime | None = None) -> SigningKey:
    return SigningKey(kid=f"k{generation}", generation=generation, algorithm="EdDSA", public_jwk={},
                      private_key=b"", created_at=T0, active_from=active_from, retired_at=retired_at)


def test_the_newest_active_key_signs_and_a_retired_key_is_published_until_its_tokens_expired():
    lifetime = dt.timedelta(seconds=610)
    old = _key(1, T0, retired_at=T0 + dt.timedelta(seconds=30))
    new = _key(2, T0 + dt.timedelta(seconds=30))
    keys = [old, new]
    assert signing_key(keys, T0 + dt.timedelta(seconds=29)) is old      # new one published, not signing yet
    assert signing_key(keys, T0 + dt.timedelta(seconds=30)) is new
    assert new.published_at(T0, lifetime)
    assert old.published_at(T0 + dt.timedelta(seconds=30 + 609), lifetime)
    assert not old.published_at(T0 + dt.timedelta(seconds=30 + 610), lifetime)
    assert signing_key([_key(1, T0 + dt.timedelta(seconds=5))], T0) is None
