"""Tokens, tenants, domains and envelopes: pure functions, no I/O."""
import pytest

from crm_common import auth
from crm_common.config import ConfigError, Settings
from crm_common.envelopes import Surface, error_body, ok, surface_for_path
from crm_common.errors import BadRequest, Forbidden, Unauthorized

SECRET = "unit-secret-0123456789-0123456789-abcd"


def test_token_round_trip_and_rejections():
    token = auth.issue_token(SECRET, sub="u1", name="张三", roles=["admin"], factories=["F1"], domains=["*"])
    principal = auth.decode_token(token, SECRET)
    assert principal.sub == "u1" and principal.is_admin and principal.may_access_factory("F1")
    with pytest.raises(Unauthorized):
        auth.decode_token(token, "another-secret-0123456789-0123456789")
    with pytest.raises(Unauthorized) as expired:
        auth.decode_token(auth.issue_token(SECRET, sub="u1", ttl_seconds=-60), SECRET, leeway=0)
    assert expired.value.error_code == "TOKEN_EXPIRED"
    with pytest.raises(Unauthorized):
        auth.bearer_token("Basic abc")


@pytest.mark.parametrize("claims", [
    {"roles": "admin"},                       # a string is not a list: never "the role admin"
    {"factories": "*"},
    {"domains": ["D1", 2]},
    {"positions": {"a": 1}},
    {"name": ["张三"]},
    {"exp": "9999999999"},                     # a string expiry
    {"exp": 10 ** 30},                         # far beyond JWT_MAX_TTL
])
def test_loosely_typed_or_overlong_claims_are_refused(claims):
    import time

    import jwt
    payload = {"sub": "u1", "roles": ["viewer"], "exp": int(time.time()) + 60, **claims}
    with pytest.raises(Unauthorized) as refused:
        auth.decode_token(jwt.encode(payload, SECRET, algorithm="HS256"), SECRET)
    assert refused.value.error_code == "TOKEN_INVALID"


def test_lifetime_is_capped_by_max_ttl():
    token = auth.issue_token(SECRET, sub="u1", ttl_seconds=7200)
    assert auth.decode_token(token, SECRET, max_ttl=86400).sub == "u1"
    with pytest.raises(Unauthorized):
        auth.decode_token(token, SECRET, max_ttl=3600)


def test_factory_resolution_follows_the_contract():
    one = auth.Principal(sub="u", factories=frozenset({"F1"}))
    assert auth.resolve_factory(one) == "F1"
    assert auth.resolve_factory(one, path_factory="F1") == "F1"
    with pytest.raises(Forbidden):
        auth.resolve_factory(one, header_factory="F2")
    anywhere = auth.Principal(sub="u", factories=frozenset({"*"}))
    assert auth.resolve_factory(anywhere) == "default"
    assert auth.resolve_factory(anywhere, header_factory="F9") == "F9"


def test_a_token_of_several_factories_must_name_one():
    several = auth.Principal(sub="u", factories=frozenset({"F2", "F1"}))
    with pytest.raises(BadRequest) as refused:
        auth.resolve_factory(several)
    assert refused.value.error_code == "FACTORY_REQUIRED"
    assert "X-Factory-Id" in refused.value.message and "F1、F2" in refused.value.message
    assert auth.resolve_factory(several, header_factory="F2") == "F2"


def test_domain_scope_maps_roles_positions_and_departments():
    p = auth.Principal(sub="u", roles=frozenset({"ROLE_STD_AGENT"}), domains=frozenset({"A"}),
                       positions=frozenset({"P1"}))
    scope = auth.domain_scope(p, {"ROLE_STD_AGENT": ["GENERAL_WAREHOUSING"], "P1": ["B"]})
    assert not scope.everything and scope.codes == {"A", "B", "GENERAL_WAREHOUSING"}
    assert any("ROLE_STD_AGENT->GENERAL_WAREHOUSING" in step for step in scope.chain)
    with pytest.raises(Forbidden):
        scope.require("C")
    assert auth.domain_scope(auth.Principal(sub="u", domains=frozenset({"*"})), {}).everything


def test_envelopes_per_surface():
    assert surface_for_path("/api/mobile/F1/customers") is Surface.MOBILE
    assert surface_for_path("/api/external/customers") is Surface.EXTERNAL
    assert surface_for_path("/api/v1/customers") is Surface.V1
    assert ok(Surface.V1, {"a": 1}, status=207)["code"] == 2070
    assert error_body(Surface.V1, 404, "x")["code"] == 4040
    assert error_body(Surface.MOBILE, 400, "bad", {"name": ["x"]}) == {"code": 400, "message": "bad", "data": None,
                                                                     "errors": {"name": ["x"]}}
    assert error_body(Surface.EXTERNAL, 429, "slow down")["error"] == "RATE_LIMITED"


def test_production_refuses_the_dev_secret_when_hs256_is_allowed():
    allowed = {"CRM_ENV": "production", "ALLOW_HS256": "1"}
    with pytest.raises(ConfigError):
        Settings.from_env("customer", allowed)
    with pytest.raises(ConfigError):
        Settings.from_env("customer", {**allowed, "JWT_SECRET": "short"})
    assert Settings.from_env("customer", {**allowed, "JWT_SECRET": "x" * 40}).jwt_secret == "x" * 40
