"""CONTRACT §3 / issue 13: one deny-by-default authorisation table (crm_common.authz).

Every operation of every service's OpenAPI document is called with a token of each role,
of no role, of an unknown role and without the ``roles`` claim; the answer must be 403
exactly when the table says the role lacks the operation's permission. The services run
in process on SQLite (the decision comes before any argument parsing or query, so what a
call would do with its data does not matter here)."""
from __future__ import annotations

import re

import pytest

from crm_common import authz
from crm_common.auth import ROLES
from crm_common.config import Settings
from crm_common.migrations import migrations_home, upgrade_head
from crm_testing import TEST_JWT_SECRET, free_port, make_token

SERVICES = {
    "customer": ("customer_service.app", "customer-service"),
    "viewing": ("viewing_service.app", "viewing-service"),
    "analytics": ("analytics_service.app", "analytics-service"),
    "sync": ("sync_worker.app", "sync-worker"),
    "issuer": ("token_issuer.app", "token-issuer"),
    "webhook": ("webhook_service.app", "webhook-service"),
}
# Callers: every role alone, none, one the system does not know, and no roles claim at all.
CALLERS = [(role,) for role in ROLES] + [(), ("superuser",), None]
PATH_VALUES = {"factoryId": "F1", "factory_id": "F1", "user_id": "u-1", "userId": "u-1"}


def _path(template: str) -> str:
    return re.sub(r"{([^}]+)}", lambda m: PATH_VALUES.get(m.group(1), "1"), template)


@pytest.fixture(scope="module", params=sorted(SERVICES))
def service(request, tmp_path_factory):
    import importlib
    module, directory = SERVICES[request.param]
    url = f"sqlite:///{tmp_path_factory.mktemp(request.param)}/db.sqlite"
    upgrade_head(migrations_home(module.split(".")[0]), url)  # Alembic files are package data
    dead = f"http://127.0.0.1:{free_port()}"  # calls to other services fail fast
    env = {f"{request.param.upper()}_DATABASE_URL": url, "JWT_SECRET": TEST_JWT_SECRET,
           "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
           **{f"{name}_SERVICE_URL": dead for name in ("CUSTOMER", "VIEWING", "ANALYTICS", "SYNC", "WEBHOOK")}}
    app = importlib.import_module(module).create_app(Settings.from_env(request.param, env))
    return request.param, app


def _operations(app):
    spec = app.test_client().get("/openapi.json").get_json()
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_answers_as_the_table_says_for_every_role(service):
    name, app = service
    client = app.test_client()
    checked, wrong = 0, []
    for path, method, operation in _operations(app):
        permission = operation.get("x-permission")
        assert permission, f"{name}: {method.upper()} {path} declares no permission"
        if permission == authz.PUBLIC:
            assert client.open(_path(path), method=method.upper()).status_code != 401, path
            continue
        allowed = authz.roles_for(permission)
        assert sorted(allowed) == operation["x-roles"], (path, method)
        for roles in CALLERS:
            claims = {} if roles is None else {"roles": list(roles)}
            token = make_token(roles=roles or (), factories=("*",), domains=("*",))
            if roles is None:  # a token without the roles claim at all
                import jwt
                payload = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
                payload.pop("roles")
                token = jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")
            resp = client.open(_path(path), method=method.upper(), json={} if method != "get" else None,
                               headers={"Authorization": f"Bearer {token}", "X-Factory-Id": "F1"})
            should_pass = bool(set(roles or ()) & allowed)
            refused = resp.status_code == 403
            # 503 is an honest answer here: the other services are deliberately unreachable
            if should_pass == refused or resp.status_code == 401 or resp.status_code in (500, 502):
                wrong.append(f"{method.upper()} {path} roles={claims.get('roles')}: {resp.status_code}")
            checked += 1
    assert not wrong, f"{name}: answers that disagree with crm_common.authz: {wrong}"
    assert checked > 0


def test_a_route_without_a_declaration_fails_the_service_start():
    from flask.views import MethodView

    from crm_common.web import Blueprint, create_base_app, finish_app
    app, api = create_base_app(Settings.from_env("probe", {"JWT_SECRET": TEST_JWT_SECRET}), title="probe")
    blp = Blueprint("probe", __name__, url_prefix="/api/v1/probe")

    @blp.route("")
    class Probe(MethodView):
        @authz.authorize("customer.read")
        def get(self):
            """Declared."""
            return {}

        def post(self):
            """Forgotten."""
            return {}

    api.register_blueprint(blp)
    with pytest.raises(RuntimeError, match="POST /api/v1/probe"):
        finish_app(app)
    # and per request, deny by default: the undeclared method is 403 even for an admin
    resp = app.test_client().post("/api/v1/probe", headers={"Authorization": f"Bearer {make_token()}"})
    assert resp.status_code == 403


def test_integrator_reaches_only_the_external_surface_and_webhooks():
    reachable = {p for p, roles in authz.PERMISSIONS.items() if "integrator" in roles}
    assert reachable == {"external.customer.write", "external.viewing.write", "external.viewing.read",
                         "external.statistics.read", "webhook.manage"}


def test_analyst_writes_nothing():
    writes = {p for p in authz.PERMISSIONS if p.endswith((".write", ".delete", ".bulk", ".run", ".manage", ".finance"))}
    assert not [p for p in writes if "analyst" in authz.roles_for(p)]
