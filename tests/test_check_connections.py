"""Seed 003 / issue 21: `make check-connections` (scripts/check_connections.py) and `make
init` check every store on this machine: one line each with its time, non-zero exit when a
required one fails, no password in the output."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest

from crm_testing import base_env, create_database, drop_database, free_port, repo_root
from crm_testing.third_party import fill, mysql_database

ROOT = repo_root()
SCRIPT = ROOT / "scripts" / "check_connections.py"
DATABASES = ("CUSTOMER", "VIEWING", "ANALYTICS", "SYNC", "WEBHOOK", "ISSUER")
LINE = re.compile(r"^(ok|FAIL|skip)\s+(\S+(?: \S+)?)\s+(\d+\.\d ms|-)\s")


@pytest.fixture(scope="module")
def pg_url():
    url = create_database("crm_check")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def mysql_url():
    with mysql_database() as url:
        fill(url, customers=3, companies=1)
        yield url


def check(env: dict[str, str], *argv: str) -> tuple[int, dict[str, tuple[str, str]], str]:
    done = subprocess.run([*argv] or [sys.executable, str(SCRIPT)], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    lines = {}
    for line in done.stdout.splitlines():
        found = LINE.match(line)
        if found:
            lines[found.group(2)] = (found.group(1), found.group(3))
    return done.returncode, lines, done.stdout + done.stderr


def env_for(pg_url: str, **extra: str) -> dict[str, str]:
    env = base_env(**{f"{name}_DATABASE_URL": pg_url for name in DATABASES})
    env.pop("REDIS_URL", None)
    env.pop("EXTERNAL_MYSQL_URL", None)
    env.update(extra)
    return env


def test_everything_reachable_is_one_ok_line_each_with_its_time(pg_url, mysql_url):
    secret_pg = pg_url.replace("postgres@", "postgres:sekrit-pw@")   # trust auth: the password is ignored
    code, lines, out = check(env_for(secret_pg, REDIS_URL="redis://127.0.0.1:6379/0",
                                     AMQP_URL="amqp://guest:guest@127.0.0.1:5672/%2F", EXTERNAL_MYSQL_URL=mysql_url))
    assert code == 0, out
    assert set(lines) == {*(f"postgresql {s.lower()}" for s in DATABASES), "redis", "rabbitmq", "mysql (external)"}
    assert all(status == "ok" and took.endswith(" ms") for status, took in lines.values()), out
    assert "sekrit-pw" not in out and "guest:guest" not in out
    assert "read-only session" in out


def test_a_required_store_down_fails_and_unset_optional_ones_are_skipped(pg_url):
    code, lines, out = check(env_for(pg_url, AMQP_URL=f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F"))
    assert code == 1, out
    assert lines["rabbitmq"][0] == "FAIL" and lines["rabbitmq"][1].endswith(" ms")
    assert lines["redis"] == ("skip", "-") and lines["mysql (external)"] == ("skip", "-")
    assert "1 failed: rabbitmq" in out


def test_a_configured_external_mysql_that_is_unreachable_fails(pg_url):
    code, lines, out = check(env_for(pg_url, EXTERNAL_MYSQL_URL=f"mysql://reader:pw@127.0.0.1:{free_port()}/rb"))
    assert code == 1 and lines["mysql (external)"][0] == "FAIL", out
    assert ":pw@" not in out


def test_make_init_migrates_then_checks(pg_url, mysql_url):
    own = {name: create_database(f"crm_init_{name.lower()}") for name in DATABASES}   # one per service, as deployed
    try:
        env = env_for(pg_url, EXTERNAL_MYSQL_URL=mysql_url, **{f"{n}_DATABASE_URL": url for n, url in own.items()})
        code, lines, out = check(env, "make", "-s", "init")
    finally:
        for url in own.values():
            drop_database(url)
    assert code == 0, out
    assert "customer-service migrate" in out and "token-issuer migrate" in out
    assert lines["postgresql customer"][0] == "ok" and lines["mysql (external)"][0] == "ok"
