"""Identity (CONTRACT §3): JWT claims, roles, tenants and business domains.

Two kinds of token are verified (``TokenVerifier``): the token issuer's, signed with an
asymmetric key (EdDSA or RS256) published in its JWKS, and HS256 tokens signed with
``JWT_SECRET`` (development and tests; refused in production unless ALLOW_HS256=1).

No Flask and no network here; ``crm_common.web`` wires it into requests and
``crm_common.jwks`` fetches what the issuer publishes.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping, Protocol

import jwt

from .errors import BadRequest, Forbidden, Unauthorized

ALGORITHM = "HS256"
# What the token issuer may sign with; a JWKS key names its own (its ``alg``).
ASYMMETRIC_ALGORITHMS = ("EdDSA", "RS256")
ALL = "*"

ROLES = ("admin", "factory_admin", "sales_admin", "finance_admin", "analyst", "integrator", "viewer")
DEFAULT_FACTORY = "default"


@dataclass(frozen=True)
class Principal:
    sub: str
    name: str = ""
    roles: frozenset[str] = frozenset()
    factories: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()
    positions: frozenset[str] = frozenset()
    departments: frozenset[str] = frozenset()
    claims: Mapping = field(default_factory=dict, compare=False, repr=False)

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def may_access_factory(self, factory_id: str) -> bool:
        return ALL in self.factories or factory_id in self.factories


DEFAULT_MAX_TTL = 86400  # JWT_MAX_TTL (CONTRACT §2)


def _str_list(claims: Mapping, name: str) -> frozenset[str]:
    """A list-of-strings claim (CONTRACT §3: strictly typed). A bare string is refused:
    ``"roles": "admin"`` must not read as the role admin."""
    value = claims.get(name)
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise Unauthorized(f"令牌声明 {name} 必须是字符串列表", error_code="TOKEN_INVALID")
    return frozenset(value)


def check_lifetime(claims: Mapping, max_ttl: int, leeway: int, now: float | None = None) -> None:
    """``exp`` must be a number (not a string, not a boolean) no further ahead than
    ``max_ttl`` seconds: a leaked token with a far-future expiry is worthless."""
    exp = claims.get("exp")
    if isinstance(exp, bool) or not isinstance(exp, (int, float)):
        raise Unauthorized("令牌有效期声明 exp 必须是数字", error_code="TOKEN_INVALID")
    current = time.time() if now is None else now
    if exp > current + max_ttl + leeway:
        raise Unauthorized(f"令牌有效期超过上限 {max_ttl} 秒", error_code="TOKEN_INVALID")


def decode_token(token: str, secret: str, leeway: int = 10, *, max_ttl: int = DEFAULT_MAX_TTL) -> Principal:
    """Verify signature and expiry; turn the claims into a ``Principal``."""
    try:
        claims = jwt.decode(token, secret, algorithms=[ALGORITHM], leeway=leeway,
                            options={"require": ["exp", "sub"]})
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("令牌已过期", error_code="TOKEN_EXPIRED") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("令牌无效", error_code="TOKEN_INVALID") from exc
    return principal_from_claims(claims, max_ttl=max_ttl, leeway=leeway)


def principal_from_claims(claims: Mapping, *, max_ttl: int = DEFAULT_MAX_TTL, leeway: int = 10) -> Principal:
    """The verified claims as a ``Principal``, refusing loosely typed claims."""
    check_lifetime(claims, max_ttl, leeway)
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub:
        raise Unauthorized("令牌缺少用户标识", error_code="TOKEN_INVALID")
    name = claims.get("name")
    if name is not None and not isinstance(name, str):
        raise Unauthorized("令牌声明 name 必须是字符串", error_code="TOKEN_INVALID")
    return Principal(
        sub=sub,
        name=name or "",
        roles=_str_list(claims, "roles"),
        factories=_str_list(claims, "factories"),
        domains=_str_list(claims, "domains"),
        positions=_str_list(claims, "positions"),
        departments=_str_list(claims, "departments"),
        claims=dict(claims),
    )


class NeedsIssuer(Exception):
    """Deciding on this token now would mean asking the token issuer (for its keys or its
    revocation list): raised instead when the caller asked for no I/O (``fetch=False``),
    so that an event loop can do that one verification in a thread."""


class KeySource(Protocol):
    def key_for(self, kid: str, *, fetch: bool = True) -> jwt.PyJWK:
        """The public key ``kid``; raises ``Unauthorized`` when the issuer has no such key
        and ``ServiceUnavailable`` when the issuer's keys cannot be known right now.
        ``fetch=False``: ``NeedsIssuer`` where the issuer would have to be asked."""


class RevocationSource(Protocol):
    def check(self, client_id: str, *, fetch: bool = True) -> None:
        """Raises ``Unauthorized`` for a revoked client and ``ServiceUnavailable`` when the
        revocation list is too old to be trusted. ``fetch=False``: ``NeedsIssuer`` where
        the list would have to be fetched first."""


@dataclass(frozen=True)
class VerifiedToken:
    principal: Principal
    valid_until: float             # exp + leeway: what signature verification accepts
    kid: str | None = None         # issuer tokens: the key that verified it...
    key: object | None = None
    client_id: str | None = None   # ...and the client checked against the revocation list


@dataclass
class TokenVerifier:
    """Turns a bearer token into a ``Principal``, whichever kind it is.

    * ``alg`` EdDSA/RS256: the issuer's key named by ``kid`` (from the JWKS), ``iss`` and
      ``aud`` must match, and the token's ``client_id`` must not be revoked.
    * ``alg`` HS256: ``JWT_SECRET``, when this process accepts HS256 at all
      (``hs256_secret`` is ``None`` in production without ALLOW_HS256=1).
    * anything else (``none``, HS384, a public key used as an HMAC secret...) is 401.
    Then the strict claim checks of ``principal_from_claims`` apply to both."""

    hs256_secret: str | None
    keys: KeySource
    revocations: RevocationSource
    issuer: str
    audience: str
    leeway: int = 10
    max_ttl: int = DEFAULT_MAX_TTL

    def verify(self, token: str) -> Principal:
        return self.verify_token(token).principal

    def verify_token(self, token: str, *, fetch: bool = True) -> VerifiedToken:
        """``verify`` with what a cache needs to know about the token (``TokenCache``).
        ``fetch=False`` raises ``NeedsIssuer`` instead of asking the issuer."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("令牌无效", error_code="TOKEN_INVALID") from exc
        alg = header.get("alg")
        if alg == ALGORITHM:
            if self.hs256_secret is None:
                raise Unauthorized("生产环境不接受 HS256 令牌，请通过 /oauth/token 获取令牌",
                                   error_code="TOKEN_INVALID")
            principal = decode_token(token, self.hs256_secret, self.leeway, max_ttl=self.max_ttl)
            return VerifiedToken(principal, principal.claims["exp"] + self.leeway)
        kid = header.get("kid")
        if alg not in ASYMMETRIC_ALGORITHMS or not isinstance(kid, str) or not kid:
            raise Unauthorized("令牌无效", error_code="TOKEN_INVALID")
        key = self.keys.key_for(kid, fetch=fetch)
        if key.algorithm_name != alg:  # a key signs with one algorithm only
            raise Unauthorized("令牌无效", error_code="TOKEN_INVALID")
        try:
            claims = jwt.decode(token, key.key, algorithms=[alg], audience=self.audience, issuer=self.issuer,
                                leeway=self.leeway,
                                options={"require": ["exp", "iat", "sub", "iss", "aud", "client_id"]})
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("令牌已过期", error_code="TOKEN_EXPIRED") from exc
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("令牌无效", error_code="TOKEN_INVALID") from exc
        principal = principal_from_claims(claims, max_ttl=self.max_ttl, leeway=self.leeway)
        client_id = claims["client_id"]
        if not isinstance(client_id, str) or not client_id:
            raise Unauthorized("令牌声明 client_id 必须是字符串", error_code="TOKEN_INVALID")
        self.revocations.check(client_id, fetch=fetch)
        return VerifiedToken(principal, claims["exp"] + self.leeway, kid, key, client_id)


class TokenCache:
    """Tokens verified once per process, remembered by their raw value until they expire
    (a bounded LRU): a repeated token costs a dictionary lookup instead of a signature
    check. What can change while a token is valid is still checked on every use: an
    issuer token's client against the revocation list, and its key against the issuer's
    current keys (a token whose key was dropped or replaced is verified again). Tokens
    that fail verification are not remembered."""

    def __init__(self, verifier: TokenVerifier, size: int = 4096, clock: Callable[[], float] = time.time):
        self.verifier = verifier
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, VerifiedToken] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str, *, fetch: bool = True) -> Principal:
        """The token's principal, or ``Unauthorized``/``ServiceUnavailable`` as
        ``TokenVerifier.verify``; ``fetch=False``: ``NeedsIssuer`` instead of any I/O."""
        with self._lock:
            entry = self._entries.get(token)
            if entry is not None:
                self._entries.move_to_end(token)
        if entry is not None and self._still_valid(entry, fetch):
            return entry.principal
        verified = self.verifier.verify_token(token, fetch=fetch)
        with self._lock:
            self._entries[token] = verified
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)
        return verified.principal

    def _still_valid(self, entry: VerifiedToken, fetch: bool) -> bool:
        if self._clock() >= entry.valid_until:
            return False
        if entry.client_id is None:  # HS256: nothing else can change
            return True
        try:
            current = self.verifier.keys.key_for(entry.kid, fetch=False)
        except (NeedsIssuer, Unauthorized):
            return False  # the key is gone: verify again, as a new token would be
        if current is not entry.key:
            return False
        self.verifier.revocations.check(entry.client_id, fetch=fetch)
        return True


def bearer_token(header_value: str | None) -> str:
    if not header_value:
        raise Unauthorized("缺少认证令牌", error_code="TOKEN_MISSING")
    scheme, _, token = header_value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("认证头格式应为 Bearer <token>", error_code="TOKEN_INVALID")
    return token.strip()


def issue_token(secret: str, *, sub: str, name: str = "", roles: Iterable[str] = ("viewer",),
                factories: Iterable[str] = (ALL,), domains: Iterable[str] = (ALL,),
                positions: Iterable[str] = (), departments: Iterable[str] = (),
                ttl_seconds: int = 3600, now: float | None = None, **extra) -> str:
    issued = int(now if now is not None else time.time())
    claims = {
        "sub": sub, "name": name, "roles": list(roles), "factories": list(factories),
        "domains": list(domains), "iat": issued, "exp": issued + int(ttl_seconds), **extra,
    }
    if positions:
        claims["positions"] = list(positions)
    if departments:
        claims["departments"] = list(departments)
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def resolve_factory(principal: Principal, *, path_factory: str | None = None,
                    header_factory: str | None = None) -> str:
    """Tenant of a request (CONTRACT §3): path segment, else ``X-Factory-Id``, else the
    token's only factory, else ``default``. A factory the token does not allow is 403; a
    token of several factories must name one (400 ``FACTORY_REQUIRED``)."""
    if path_factory:
        factory = path_factory
    elif header_factory:
        factory = header_factory.strip()
    else:
        concrete = sorted(f for f in principal.factories if f != ALL)
        if len(concrete) > 1 and ALL not in principal.factories:
            message = f"令牌可访问多个工厂（{'、'.join(concrete)}），请用请求头 X-Factory-Id 指定本次操作的工厂"
            raise BadRequest(message, error_code="FACTORY_REQUIRED", errors={"X-Factory-Id": [message]})
        factory = concrete[0] if len(concrete) == 1 and ALL not in principal.factories else DEFAULT_FACTORY
    if not factory or len(factory) > 64:
        raise Forbidden("工厂标识无效")
    if not principal.may_access_factory(factory):
        raise Forbidden(f"无权访问工厂 {factory}")
    return factory


@dataclass(frozen=True)
class DomainScope:
    """The business domains a request may see. ``everything`` means no filter."""
    everything: bool
    codes: frozenset[str]
    chain: tuple[str, ...] = ()

    def allows(self, domain: str | None) -> bool:
        return self.everything or (domain is not None and domain in self.codes)

    def require(self, domain: str | None) -> None:
        if not self.allows(domain):
            raise Forbidden(f"无权访问业务域 {domain}", error_code="FORBIDDEN")


def domain_scope(principal: Principal, mapping: Mapping[str, Iterable[str]]) -> DomainScope:
    """Token ``domains`` plus what ``roles``/``positions``/``departments`` map to (seed 003's
    role mapping gateway). ``chain`` lists each mapping step for the log."""
    if ALL in principal.domains:
        return DomainScope(True, frozenset(), ("domains:*",))
    codes = set(principal.domains)
    chain = [f"domains:{','.join(sorted(principal.domains))}"] if principal.domains else []
    for kind, values in (("role", principal.roles), ("position", principal.positions),
                         ("department", principal.departments)):
        for value in sorted(values):
            mapped = mapping.get(value)
            if mapped:
                mapped = list(mapped)
                if ALL in mapped:
                    return DomainScope(True, frozenset(), tuple(chain + [f"{kind}:{value}->*"]))
                codes.update(mapped)
                chain.append(f"{kind}:{value}->{','.join(mapped)}")
    return DomainScope(False, frozenset(codes), tuple(chain))
