"""Issue 12: what a new user or operator meets first, on real processes and PostgreSQL.

Every database URL form a user can be handed works; migrations are safe when several
replicas start at once; the service CLIs explain themselves."""
from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
import sqlalchemy as sa

from crm_common.config import normalize_database_url
from crm_testing import Process, base_env, create_database, drop_database, free_port, make_token

CLI = Path(sys.executable).parent


def _forms(psycopg2_url: str) -> dict[str, str]:
    rest = psycopg2_url.split("://", 1)[1]
    return {scheme: f"{scheme}://{rest}" for scheme in
            ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg")}


@pytest.fixture
def database():
    url = create_database("crm_first_run")
    yield url
    drop_database(url)


def test_normalisation_keeps_credentials_host_and_query():
    url = "postgres://user:p%40ss@db.example.com:6432/crm?sslmode=require&application_name=x"
    assert normalize_database_url(url) == \
        "postgresql+psycopg2://user:p%40ss@db.example.com:6432/crm?sslmode=require&application_name=x"
    assert normalize_database_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"


@pytest.mark.parametrize("form", ["postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg", "sqlite"])
def test_every_database_url_form_migrates_and_serves(form, database, tmp_path):
    url = f"sqlite:///{tmp_path}/customer.db" if form == "sqlite" else _forms(database)[form]
    env = base_env(CUSTOMER_DATABASE_URL=url, CRM_HOME=str(tmp_path))
    done = subprocess.run([str(CLI / "customer-service"), "migrate"], env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    port = free_port()
    proc = Process(f"customer-{form}", [str(CLI / "customer-service"), "serve", "--bind", f"127.0.0.1:{port}",
                                        "--workers", "1"], env, ready_url=f"http://127.0.0.1:{port}/readyz",
                   log_dir=tmp_path).start(wait=60)
    try:
        created = requests.post(f"http://127.0.0.1:{port}/api/v1/customers", timeout=10,
                                headers={"Authorization": f"Bearer {make_token(factories=['F001'])}"},
                                json={"customer": {"name": f"URL {form}"}})
        assert created.status_code == 201, created.text
    finally:
        proc.stop()


def test_four_concurrent_migrations_of_a_fresh_database_all_succeed(database):
    env = base_env(CUSTOMER_DATABASE_URL=_forms(database)["postgresql"])

    def migrate(_):
        return subprocess.run([str(CLI / "customer-service"), "migrate"], env=env, capture_output=True,
                              text=True, timeout=180)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(migrate, range(4)))
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr[-1500:] for r in results if r.returncode]
    engine = sa.create_engine(database, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            assert len(conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", ["customer-service", "viewing-service", "analytics-service", "sync-worker"])
def test_migrate_help_prints_help_and_touches_nothing(service, tmp_path):
    env = base_env(CRM_HOME=str(tmp_path))
    for argv in (["--help"], ["migrate", "--help"], ["serve", "--help"]):
        done = subprocess.run([str(CLI / service), *argv], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "usage" in done.stdout.lower(), (argv, done.stdout, done.stderr)
    assert not (tmp_path / "var").exists() or not any((tmp_path / "var").iterdir())
