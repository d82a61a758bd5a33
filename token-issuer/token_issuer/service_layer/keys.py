"""The issuer's signing keys: the first one, rotation, pruning, the JWKS, and the key that
signs now.

Rotation: a new key is published in the JWKS at once and signs from ``activation_delay``
seconds later (default 30), so that verifiers which refreshed their keys just before the
rotation (at most once per JWKS_MIN_REFRESH_SECONDS on an unknown ``kid``) already know it
when its first token arrives. The previous key stops signing then and stays in the JWKS
until its last token has expired (ISSUER_TOKEN_TTL plus the verifiers' leeway); after that
``prune`` deletes it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError

from crm_common import logs

from ..adapters.keystore import KeyEncryption, generate_key_pair
from ..domain.model import SigningKey, signing_key
from .unit_of_work import IssuerUnitOfWork

log = logs.get_logger("token_issuer.keys")


class NoSigningKey(RuntimeError):
    """No key signs yet (the issuer was never migrated, or every key is still pending)."""


@dataclass(frozen=True)
class Signer:
    kid: str
    algorithm: str
    private_key: object


def _new_key(uow: IssuerUnitOfWork, encryption: KeyEncryption, algorithm: str, generation: int,
             now: dt.datetime, active_from: dt.datetime) -> SigningKey:
    pair = generate_key_pair(algorithm)
    key = SigningKey(kid=pair.kid, generation=generation, algorithm=algorithm, public_jwk=pair.public_jwk,
                     private_key=encryption.encrypt(pair.kid, pair.private_der), created_at=now,
                     active_from=active_from)
    uow.keys.add(key)
    return key


def ensure_signing_key(uow: IssuerUnitOfWork, encryption: KeyEncryption, algorithm: str,
                       now: dt.datetime) -> str | None:
    """Create the first key when there is none (``migrate`` and start-up); the ``kid`` of
    the key created, or ``None`` when one existed. Concurrent first starts create one."""
    with uow:
        if uow.keys.all():
            return None
        key = _new_key(uow, encryption, algorithm, 1, now, now)
        try:
            uow.commit()
        except IntegrityError:  # another process created generation 1 first
            return None
    log.info("signing_key_created", kid=key.kid, algorithm=algorithm)
    return key.kid


def rotate_key(uow: IssuerUnitOfWork, encryption: KeyEncryption, algorithm: str, now: dt.datetime,
               activate_in: dt.timedelta) -> SigningKey:
    """Add a key that signs from ``now + activate_in``; the current key retires then."""
    with uow:
        keys = uow.keys.all()
        generation = max((k.generation for k in keys), default=0) + 1
        key = _new_key(uow, encryption, algorithm, generation, now, now + activate_in)
        for older in keys:
            if older.retired_at is None or older.retired_at > key.active_from:
                older.retired_at = key.active_from
        uow.commit()  # a concurrent rotation fails here on the unique generation
    log.info("signing_key_rotated", kid=key.kid, generation=generation, active_from=key.active_from.isoformat())
    return key


def prune_keys(uow: IssuerUnitOfWork, now: dt.datetime, token_lifetime: dt.timedelta) -> list[str]:
    """Delete retired keys whose every token has expired; their ``kid``s."""
    with uow:
        gone = [k for k in uow.keys.all() if not k.published_at(now, token_lifetime)]
        for key in gone:
            uow.keys.delete(key)
        uow.commit()
    if gone:
        log.info("signing_keys_pruned", kids=[k.kid for k in gone])
    return [k.kid for k in gone]


def jwks(uow: IssuerUnitOfWork, now: dt.datetime, token_lifetime: dt.timedelta) -> dict:
    """RFC 7517 key set: pending, current and retired keys whose tokens may still be valid."""
    with uow:
        return {"keys": [dict(k.public_jwk) for k in uow.keys.all() if k.published_at(now, token_lifetime)]}


def key_states(uow: IssuerUnitOfWork, now: dt.datetime, token_lifetime: dt.timedelta) -> list[dict]:
    """Every key with its state (for ``token-issuer keys``)."""
    with uow:
        keys = uow.keys.all()
        current = signing_key(keys, now)

        def state(k: SigningKey) -> str:
            if k is current:
                return "signing"
            if k.active_from > now:
                return "pending"
            return "published" if k.published_at(now, token_lifetime) else "expired"
        return [{"kid": k.kid, "generation": k.generation, "algorithm": k.algorithm, "state": state(k),
                 "active_from": k.active_from.isoformat(),
                 "retired_at": k.retired_at.isoformat() if k.retired_at else None} for k in keys]


def current_signer(uow: IssuerUnitOfWork, encryption: KeyEncryption, now: dt.datetime) -> Signer:
    with uow:
        key = signing_key(uow.keys.all(), now)
        if key is None:
            raise NoSigningKey("no signing key is active: run `token-issuer migrate` or `token-issuer rotate-key`")
        return Signer(key.kid, key.algorithm, encryption.decrypt(key.kid, key.private_key))
