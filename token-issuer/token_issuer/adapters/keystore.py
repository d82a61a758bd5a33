"""Signing key pairs and how their private halves are kept.

Private keys live in the issuer's own database, encrypted with AES-256-GCM under a
key-encryption key (KEK) that only the issuer is given: ``ISSUER_KEY_ENCRYPTION_KEY``
(base64url of 32 random bytes, ``token-issuer generate-kek`` prints one) or
``ISSUER_KEY_ENCRYPTION_KEY_FILE`` (a file holding it, e.g. a mounted secret). A copy of
the database alone signs nothing. Without either variable, outside production, a KEK is
generated once under ``var/issuer.kek`` (mode 0600) so that ``make run`` needs nothing.
The key id is bound to each ciphertext (GCM associated data): a private key copied under
another ``kid`` does not decrypt.

Keys are EdDSA (Ed25519) by default: small, fast, and with no parameters to get wrong;
``ISSUER_KEY_ALGORITHM=RS256`` makes new keys RSA-2048 for verifiers that lack EdDSA.
``kid`` is the RFC 7638 thumbprint of the public key.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from jwt.algorithms import OKPAlgorithm, RSAAlgorithm

from crm_common.config import ConfigError, Settings, repo_root

ALGORITHMS = ("EdDSA", "RS256")
NONCE_BYTES = 12
DEV_KEK_FILE = "issuer.kek"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def generate_kek() -> str:
    return _b64(secrets.token_bytes(32))


def parse_kek(text: str) -> bytes:
    raw = text.strip()
    try:
        kek = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ConfigError("the key-encryption key must be base64url (token-issuer generate-kek)") from exc
    if len(kek) != 32:
        raise ConfigError("the key-encryption key must be 32 bytes (token-issuer generate-kek)")
    return kek


def kek_from_settings(settings: Settings) -> bytes:
    """The KEK from ISSUER_KEY_ENCRYPTION_KEY(_FILE); in development, ``var/issuer.kek``
    (created on first use); in production one of the variables is required."""
    given = settings.get("ISSUER_KEY_ENCRYPTION_KEY")
    path = settings.get("ISSUER_KEY_ENCRYPTION_KEY_FILE")
    if given and path:
        raise ConfigError("set ISSUER_KEY_ENCRYPTION_KEY or ISSUER_KEY_ENCRYPTION_KEY_FILE, not both")
    if given:
        return parse_kek(given)
    if path:
        try:
            return parse_kek(Path(path).read_text())
        except OSError as exc:
            raise ConfigError(f"ISSUER_KEY_ENCRYPTION_KEY_FILE cannot be read: {exc.strerror}") from exc
    if settings.production:
        raise ConfigError("ISSUER_KEY_ENCRYPTION_KEY (or ISSUER_KEY_ENCRYPTION_KEY_FILE) is required "
                          "when CRM_ENV=production")
    dev_file = repo_root() / "var" / DEV_KEK_FILE
    dev_file.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: two workers starting at once agree on one file
        fd = os.open(dev_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return parse_kek(dev_file.read_text())
    with os.fdopen(fd, "w") as out:
        out.write(generate_kek() + "\n")
    return parse_kek(dev_file.read_text())


class KeyDecryptionFailed(RuntimeError):
    """A private key does not decrypt under this KEK (another KEK, or tampered data)."""


class KeyEncryption:
    def __init__(self, kek: bytes):
        self._aead = AESGCM(kek)
        self._loaded: dict[tuple[str, bytes], object] = {}  # decrypted once per process


    def encrypt(self, kid: str, private_der: bytes) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, private_der, kid.encode())

    def decrypt(self, kid: str, blob: bytes):
        """The private key object (for PyJWT) of ``kid``."""
        cached = self._loaded.get((kid, blob))
        if cached is not None:
            return cached
        try:
            der = self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], kid.encode())
        except Exception as exc:  # InvalidTag, or a truncated blob
            raise KeyDecryptionFailed(f"private key {kid} does not decrypt with this key-encryption key") from exc
        key = serialization.load_der_private_key(der, password=None)
        self._loaded[(kid, bytes(blob))] = key
        return key


@dataclass(frozen=True)
class NewKeyPair:
    kid: str
    algorithm: str
    public_jwk: dict
    private_der: bytes


def thumbprint(jwk: dict) -> str:
    """RFC 7638: SHA-256 of the required members, sorted, without whitespace."""
    required = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}[jwk["kty"]]
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def generate_key_pair(algorithm: str) -> NewKeyPair:
    if algorithm == "EdDSA":
        private = ed25519.Ed25519PrivateKey.generate()
        jwk = OKPAlgorithm.to_jwk(private.public_key(), as_dict=True)
    elif algorithm == "RS256":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = RSAAlgorithm.to_jwk(private.public_key(), as_dict=True)
    else:
        raise ConfigError(f"ISSUER_KEY_ALGORITHM must be one of {'/'.join(ALGORITHMS)}, got {algorithm!r}")
    jwk.pop("key_ops", None)  # "use" says it (RFC 7517 §4.3: not both)
    kid = thumbprint(jwk)
    public = {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}
    der = private.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return NewKeyPair(kid, algorithm, public, der)
