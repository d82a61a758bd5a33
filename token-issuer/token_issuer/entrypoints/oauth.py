"""The issuer's public endpoints (no token needed, CONTRACT §3): ``POST /oauth/token`` and
``GET /.well-known/jwks.json``; and ``GET /internal/revoked-clients``, which every service
polls (not routed by the gateway).

``/oauth/token`` answers in RFC 6749's shapes, not in an API envelope: §5.1 on success,
§5.2 ``{"error", "error_description"}`` otherwise, always with ``Cache-Control: no-store``."""
from __future__ import annotations

import base64
import binascii
from urllib.parse import unquote_plus

from flask import Response, jsonify, request

from crm_common import authz
from crm_common.web import Blueprint

from ..bootstrap import issuer
from ..service_layer import clients, keys
from ..service_layer.keys import NoSigningKey
from ..service_layer.tokens import OAuthError, TokenRequest, issue_access_token

blp = Blueprint("oauth", __name__, description="OAuth 2.0 client credentials (RFC 6749 §4.4) and the "
                                              "public keys that verify the tokens (no token needed)")

FORM = "application/x-www-form-urlencoded"
PARAMETERS = ("grant_type", "client_id", "client_secret", "scope")

_ERROR_SCHEMA = {"type": "object", "required": ["error"], "properties": {
    "error": {"type": "string", "enum": ["invalid_request", "invalid_client", "unsupported_grant_type",
                                         "invalid_scope", "rate_limited", "temporarily_unavailable"]},
    "error_description": {"type": "string"}}}
TOKEN_DOC = {
    "security": [],
    "requestBody": {"required": True, "content": {FORM: {"schema": {
        "type": "object", "required": ["grant_type"], "properties": {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "client_id": {"type": "string", "description": "With client_secret, unless HTTP Basic is used"},
            "client_secret": {"type": "string"}}}}}},
    "responses": {
        "200": {"description": "RFC 6749 §5.1 access token response", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"access_token": {"type": "string"},
                                             "token_type": {"type": "string", "enum": ["Bearer"]},
                                             "expires_in": {"type": "integer"}}}}}},
        "400": {"description": "invalid_request, unsupported_grant_type, invalid_scope",
                "content": {"application/json": {"schema": _ERROR_SCHEMA}}},
        "401": {"description": "invalid_client (unknown or revoked client, wrong secret)",
                "content": {"application/json": {"schema": _ERROR_SCHEMA}}},
        "429": {"description": "rate_limited: too many failed authentications for this client or "
                               "address; see Retry-After", "content": {"application/json": {"schema": _ERROR_SCHEMA}}},
        "503": {"description": "temporarily_unavailable: no signing key is active",
                "content": {"application/json": {"schema": _ERROR_SCHEMA}}},
    },
}


def _no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def oauth_error(exc: OAuthError) -> Response:
    resp = jsonify({"error": exc.error, "error_description": exc.description})
    resp.status_code = exc.status
    resp.headers.update(exc.headers)
    return _no_store(resp)


def _basic_credentials(header: str) -> tuple[str, str]:
    """RFC 6749 §2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "only HTTP Basic client authentication is accepted here", 401,
                         {"WWW-Authenticate": 'Basic realm="crm", charset="UTF-8"'})
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "malformed HTTP Basic credentials", 401,
                         {"WWW-Authenticate": 'Basic realm="crm", charset="UTF-8"'})
    return unquote_plus(client_id), unquote_plus(secret)


def client_address(trusted_hops: int) -> str | None:
    """The caller's address: the entry our own proxies (the gateway: 1 hop) appended to
    X-Forwarded-For, else the peer address. Earlier entries are the caller's own claims."""
    if trusted_hops > 0:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if len(forwarded) >= trusted_hops:
            return forwarded[-trusted_hops][:64]
    return request.remote_addr


def parse_token_request(trusted_hops: int) -> TokenRequest:
    if request.mimetype != FORM:
        raise OAuthError("invalid_request", f"the body must be {FORM}")
    if "client_secret" in request.args:
        raise OAuthError("invalid_request", "client_secret must not be sent in the URL")
    form = request.form
    repeated = [name for name in PARAMETERS if len(form.getlist(name)) > 1]
    if repeated:
        raise OAuthError("invalid_request", f"parameter repeated: {', '.join(repeated)}")
    client_id, secret = form.get("client_id") or None, form.get("client_secret") or None
    header = request.headers.get("Authorization")
    basic = header is not None
    if basic:
        if secret is not None:
            raise OAuthError("invalid_request", "use one client authentication method: HTTP Basic or the form")
        basic_id, secret = _basic_credentials(header)
        if client_id is not None and client_id != basic_id:
            raise OAuthError("invalid_request", "client_id in the body differs from HTTP Basic")
        client_id = basic_id
    return TokenRequest(grant_type=form.get("grant_type") or None, client_id=client_id, client_secret=secret,
                        basic_auth=basic, address=client_address(trusted_hops), scope=form.get("scope") or None)


@blp.route("/oauth/token", methods=["POST"])
@blp.doc(operationId="issueAccessToken")
@blp.doc(**TOKEN_DOC)
@authz.public
def token():
    """Exchange client credentials for an access token (RFC 6749 §4.4).

    Form body `grant_type=client_credentials`; the client authenticates with HTTP Basic
    (`client_id:client_secret`) or with `client_id` and `client_secret` in the body. The
    answer `{"access_token", "token_type": "Bearer", "expires_in"}` is a JWT signed with the
    issuer's current key (see `/.well-known/jwks.json`), carrying the client's `roles`,
    `factories` and `domains`, `sub` = `client:<client_id>`, and `client_id`, `iss`, `aud`,
    `jti`, `iat`, `exp`. Ask for a new token when it expires (`expires_in` seconds).
    Errors are RFC 6749 §5.2 JSON. After repeated failed authentications for one client or
    from one address, requests are refused with 429 and `Retry-After` before any secret is checked."""
    parts = issuer()
    try:
        issued = issue_access_token(parts, parse_token_request(parts.trusted_proxy_hops), parts.now())
    except OAuthError as exc:
        return oauth_error(exc)
    except NoSigningKey:
        return oauth_error(OAuthError("temporarily_unavailable", "no signing key is active", 503,
                                      {"Retry-After": "5"}))
    return _no_store(jsonify(issued.as_dict()))


@blp.route("/.well-known/jwks.json")
@blp.doc(operationId="getSigningKeys")
@blp.doc(security=[], responses={"200": {"description": "RFC 7517 JSON Web Key Set"}})
@authz.public
def jwks():
    """The public keys that verify the issuer's tokens (RFC 7517), each with its `kid` and
    `alg` (EdDSA or RS256): the current key, a newly rotated key before it starts signing,
    and retired keys until their last token has expired."""
    parts = issuer()
    resp = jsonify(keys.jwks(parts.uow_factory(), parts.now(), parts.token_lifetime))
    resp.headers["Cache-Control"] = "no-cache"
    resp.add_etag()
    return resp.make_conditional(request)


@blp.route("/internal/revoked-clients")
@blp.doc(operationId="listRevokedClients")
@blp.doc(security=[], responses={"200": {"description": '`{"client_ids": [...]}`'}})
@authz.public
def revoked_clients():
    """Client ids whose tokens must be refused. Polled by every service and the gateway
    (`REVOCATION_POLL_SECONDS`, with `If-None-Match`); not routed by the gateway. The ids
    are not secrets: knowing one grants nothing."""
    resp = jsonify({"client_ids": clients.revoked_client_ids(issuer().uow_factory())})
    resp.headers["Cache-Control"] = "no-cache"
    resp.add_etag()
    return resp.make_conditional(request)
