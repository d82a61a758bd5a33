from __future__ import annotations

import base64
import datetime as dt

import pytest

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET, auth_headers, free_port, migrated_database
from token_issuer.adapters.keystore import generate_kek
from token_issuer.cli import SERVICE_DIR


@pytest.fixture(scope="session")
def pg_url():
    with migrated_database(SERVICE_DIR, "crm_issuer_it") as url:
        yield url


def issuer_settings(pg_url: str, **extra: str) -> Settings:
    return Settings.from_env("issuer", {
        "ISSUER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
        "ISSUER_KEY_ENCRYPTION_KEY": extra.pop("kek", None) or KEK,
        # the issuer's own admin API verifies HS256 tokens here; nothing needs the JWKS
        "ISSUER_SERVICE_URL": f"http://127.0.0.1:{free_port()}", **extra})


KEK = generate_kek()


class Clock:
    """The issuer's ``now``, moved by tests."""

    def __init__(self):
        self.now = dt.datetime.now(dt.timezone.utc)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


@pytest.fixture(scope="session")
def app(pg_url):
    from token_issuer.app import create_app
    return create_app(issuer_settings(pg_url))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def admin():
    return auth_headers(roles=("admin",), sub="u-admin", name="管理员")


@pytest.fixture
def new_client(client, admin):
    """Create an API client through the API; returns its data (with the secret)."""
    def make(roles=("integrator",), factories=("F1",), domains=("*",), name="ERP 对接"):
        resp = client.post("/api/v1/api-clients", headers=admin,
                           json={"name": name, "roles": list(roles), "factories": list(factories),
                                 "domains": list(domains)})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["data"]
    return make


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


@pytest.fixture
def ask_token(client):
    """``POST /oauth/token`` as an integrator would (HTTP Basic, or the form), from ``address``
    as the gateway reports it in X-Forwarded-For."""
    def ask(creds: dict | None = None, *, use_basic: bool = True, address: str = "198.51.100.7", **form):
        data = {"grant_type": "client_credentials", **form}
        headers = {"X-Forwarded-For": address}
        if creds and use_basic:
            headers.update(basic(creds["client_id"], creds["client_secret"]))
        elif creds:
            data.update(client_id=creds["client_id"], client_secret=creds["client_secret"])
        return client.post("/oauth/token", data=data, headers=headers)
    return ask
