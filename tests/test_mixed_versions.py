"""Mixed versions (issue 23): the previous release of a consumer, checked out from git at its
release tag, reads what the current producer publishes. Here sync-worker's last release
(``sync-worker-v*``; before the first tag, the state before the last commit that changed
sync-worker or the shared library, tagged in a temporary clone) consumes, through the real
relay and RabbitMQ, a stream of customer events written by the current customer-service:
every event is applied, none is dead-lettered, and the projects follow their customer.

What this makes safe: a producer can be upgraded before its consumers (README, Operations:
"Upgrade order")."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tarfile
import uuid
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa

from crm_common.config import Settings
from crm_common.migrations import migrations_home
from crm_testing import (
    TEST_JWT_SECRET,
    Process,
    auth_headers,
    base_env,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    free_port,
    migrated_database,
    prometheus_dir,
    repo_root,
    wait_for,
)

ROOT = repo_root()
pytestmark = pytest.mark.slow
CONSUMER, QUEUE = "sync-worker", "sync-worker.customer-sync"
TEMPORARY_TAG = "sync-worker-v0.0.0-previous"
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@test.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@test.invalid"}


def _last_tag(repo: Path) -> str | None:
    spec = importlib.util.spec_from_file_location("release_script", ROOT / "scripts" / "release.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["release_script"] = module
    spec.loader.exec_module(module)
    return module.last_tag(CONSUMER, repo)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, timeout=120,
                          env=GIT_ENV).stdout.strip()


def previous_release(tmp: Path) -> tuple[str, Path]:
    """(tag, directory holding sync-worker/ and libs/crm_common/ as that release had them)."""
    clone = tmp / "clone"
    git(tmp, "clone", "-q", "--no-hardlinks", str(ROOT), str(clone))
    tag = _last_tag(clone)
    if tag is None:  # no release yet: the state before sync-worker's (or the library's) newest change
        newest = git(clone, "log", "-1", "--format=%H", "--", CONSUMER, "libs/crm_common")
        git(clone, "tag", TEMPORARY_TAG, f"{newest}^")
        tag = TEMPORARY_TAG
    archive = tmp / "previous.tar"
    git(clone, "archive", "--format=tar", "-o", str(archive), tag, CONSUMER, "libs/crm_common")
    target = tmp / "previous"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return tag, target


@pytest.fixture
def vhost():
    url = create_vhost("crm_mixed")
    yield url
    delete_vhost(url)


@pytest.fixture
def sync_db():
    url = create_database("crm_mixed_sync")
    yield url
    drop_database(url)


def test_the_previous_sync_worker_release_applies_the_current_customer_service_events(tmp_path, vhost, sync_db):
    tag, previous = previous_release(tmp_path)
    old_env = base_env(PYTHONPATH=os.pathsep.join([str(previous / CONSUMER), str(previous / "libs/crm_common")]),
                       SYNC_DATABASE_URL=sync_db, AMQP_URL=vhost, METRICS_PORT=str(free_port()),
                       PROMETHEUS_MULTIPROC_DIR=prometheus_dir())
    old = [sys.executable, "-m", "sync_worker.cli"]
    probe = subprocess.run([sys.executable, "-c", "import sync_worker, crm_common; print(sync_worker.__file__, crm_common.__file__)"],
                           env=old_env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert str(previous) in probe.stdout and probe.stdout.count(str(previous)) == 2, probe  # the old code, not ours
    for step in (["migrate"], ["consume", "--declare-only"]):
        done = subprocess.run([*old, *step], env=old_env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{tag}: sync-worker {' '.join(step)}\n{done.stdout}\n{done.stderr}"

    factory = f"F{uuid.uuid4().hex[:8].upper()}"
    with migrated_database(migrations_home("customer_service"), "crm_mixed_customer") as customer_db:
        from customer_service.app import create_app
        app = create_app(Settings.from_env("customer", {"CUSTOMER_DATABASE_URL": customer_db, "AMQP_URL": vhost,
                                                        "JWT_SECRET": TEST_JWT_SECRET}))
        client, headers = app.test_client(), auth_headers(factories=[factory])
        ids = []
        for n in range(5):
            created = client.post("/api/v1/customers", headers=headers, json={"customer": {
                "name": f"混合版本客户{n}-{factory}", "primary_contact_name": "王经理", "primary_contact_phone": "13800000000"}})
            assert created.status_code == 201, created.get_json()
            ids.append(created.get_json()["data"]["id"])
        engine = sa.create_engine(sync_db, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:  # a project of the first customer, as the old release stores it
            conn.execute(sa.text("INSERT INTO projects (factory_id, name, customer_id, customer_name, created_at, "
                                 "updated_at, version) VALUES (:f, '混合版本项目', :c, :n, now(), now(), 1)"),
                         {"f": factory, "c": ids[0], "n": f"混合版本客户0-{factory}"})
        for n, cid in enumerate(ids):
            renamed = client.put(f"/api/v1/customers/{cid}", headers=headers,
                                 json={"name": f"改名客户{n}-{factory}", "primary_contact_phone": "13900000000"})
            assert renamed.status_code == 200, renamed.get_json()
        assert client.delete(f"/api/v1/customers/{ids[-1]}", headers=headers).status_code == 200
        customer_engine = sa.create_engine(customer_db, poolclass=sa.pool.NullPool)
        with customer_engine.connect() as conn:
            event_ids = set(conn.execute(sa.text("SELECT event_id FROM outbox")).scalars())
        customer_engine.dispose()
        assert len(event_ids) == 11

        relay = Process("customer-relay", [sys.executable, "-m", "customer_service.cli", "relay"],
                        base_env(CUSTOMER_DATABASE_URL=customer_db, AMQP_URL=vhost, METRICS_PORT=str(free_port()),
                                 PROMETHEUS_MULTIPROC_DIR=prometheus_dir()), cwd=tmp_path)
        consumer = Process("previous-sync-consumer", [*old, "consume"], old_env, cwd=tmp_path)
        relay.start()
        consumer.start()
        try:
            def applied():
                with engine.connect() as conn:
                    seen = set(conn.execute(sa.text("SELECT event_id FROM processed_events")).scalars())
                return event_ids <= seen
            assert wait_for(applied, timeout=60, interval=0.2), \
                f"{tag} did not apply every event:\n{consumer.tail()}\n--- relay\n{relay.tail()}"
            with engine.connect() as conn:
                project = conn.execute(sa.text("SELECT customer_name, customer_phone FROM projects "
                                               "WHERE factory_id = :f"), {"f": factory}).one()
                failed = conn.execute(sa.text("SELECT count(*) FROM sync_history WHERE outcome = 'failed'")).scalar()
            assert tuple(project) == (f"改名客户0-{factory}", "13900000000")
            assert failed == 0
            connection = pika.BlockingConnection(pika.URLParameters(vhost))
            try:
                dead = connection.channel().queue_declare(f"{QUEUE}.dlq", passive=True).method.message_count
            finally:
                connection.close()
            assert dead == 0, consumer.tail()
            assert consumer.alive(), consumer.tail()
        finally:
            consumer.stop()
            relay.stop()
            engine.dispose()
