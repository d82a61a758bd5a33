"""Issue 21, end to end: customer-service's import from the third party's MySQL (the local
MariaDB, a database of this module's own), through the gateway: an admin starts a run,
reads its result and the external-sync records by ``remoteId``; ``sync-external`` killed
with SIGKILL halfway and run again ends as one clean run; the scheduled worker imports on
its own."""
from __future__ import annotations

import signal
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_testing import Process, Stack, auth_headers, wait_for
from crm_testing.third_party import fill, mysql_database, touch

pytestmark = pytest.mark.system

CLI = str(Path(sys.executable).parent / "customer-service")


@pytest.fixture(scope="module")
def third_party():
    with mysql_database() as url:
        yield url, fill(url, customers=120, companies=15)


@pytest.fixture(scope="module")
def stack(third_party):
    with Stack(services=["customer"], workers=[], extra_env={"EXTERNAL_MYSQL_URL": third_party[0]}) as running:
        yield running


@pytest.fixture
def factory() -> str:
    return f"F{uuid.uuid4().hex[:8].upper()}"


def api(stack, factory, roles=("admin",)):
    import requests
    session = requests.Session()
    session.headers.update(auth_headers(roles=roles, factories=(factory,), domains=("*",)))

    def call(method, path, **kw):
        kw.setdefault("timeout", 30)
        return session.request(method, stack.gateway + path, **kw)
    return call


def finished_run(call, run_id, timeout=120):
    def done():
        body = call("GET", f"/api/v1/external-sync/runs/{run_id}").json()["data"]
        return body if body["state"] != "RUNNING" else None
    return wait_for(done, timeout=timeout, interval=0.25)


def records(call, remote_id):
    resp = call("GET", "/api/v1/external-sync", params={"remoteId": remote_id, "source": "RB"})
    assert resp.status_code == 200, resp.text
    return resp.json()["data"]["items"]


def tenant_state(stack, factory):
    engine = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        customers = sorted(conn.execute(sa.text(
            "SELECT c.source_ref_id, c.name, c.primary_contact_phone, co.source_ref_id FROM customers c "
            "LEFT JOIN companies co ON co.id = c.company_id WHERE c.factory_id = :f"), {"f": factory}).all())
        companies = conn.execute(sa.text("SELECT count(*) FROM companies WHERE factory_id = :f"),
                                 {"f": factory}).scalar_one()
        audit = sorted(conn.execute(sa.text(
            "SELECT remote_id, sync_status, count(*) FROM external_sync WHERE factory_id = :f "
            "GROUP BY remote_id, sync_status"), {"f": factory}).all())
        events = conn.execute(sa.text(
            "SELECT count(*) FROM outbox o JOIN customers c ON o.aggregate_id = CAST(c.id AS TEXT) "
            "WHERE c.factory_id = :f"), {"f": factory}).scalar_one()
    engine.dispose()
    return {"customers": customers, "companies": companies, "audit": audit, "events": events}


def test_an_admin_starts_a_run_through_the_gateway_and_reads_its_result_and_records(stack, third_party, factory):
    _url, fx = third_party
    call = api(stack, factory)
    assert api(stack, factory, roles=("sales_admin",))("POST", "/api/v1/external-sync/runs", json={}).status_code == 403
    started = call("POST", "/api/v1/external-sync/runs", json={"source": "RB"})
    assert started.status_code == 202, started.text
    run = finished_run(call, started.json()["data"]["id"])
    assert run["state"] == "SUCCEEDED"
    assert run["counts"] == {"read": fx.customers, "created": len(fx.valid), "updated": 0, "unchanged": 0,
                             "failed": len(fx.invalid)}

    [ok] = records(call, "1")
    assert ok["sync_status"] == "SUCCESS" and ok["entity_type"] == "customer"
    customer = call("GET", f"/api/v1/customers/{ok['entity_id']}").json()["data"]
    assert customer["customer_code"].startswith("RB-") and customer["name"] == "三方客户0001"
    [bad] = records(call, "25")
    assert bad["sync_status"] == "FAILED" and bad["entity_id"] is None and "name" in bad["error_message"]

    again = call("POST", "/api/v1/external-sync/runs", json={"source": "RB"})
    assert finished_run(call, again.json()["data"]["id"])["counts"]["read"] == 0
    assert len(records(call, "1")) == 1


def test_sync_external_killed_halfway_and_run_again_ends_as_one_clean_run(stack, third_party, factory):
    clean = f"{factory}C"
    call = api(stack, clean)
    finished_run(call, call("POST", "/api/v1/external-sync/runs", json={}).json()["data"]["id"])

    env = {**stack.service_env("customer"), "EXTERNAL_SYNC_BATCH_SIZE": "10"}
    argv = [CLI, "sync-external", "--source", "RB", "--factory", factory]
    first = Process("sync-external-killed", argv, env, log_dir=stack.log_dir).start()
    engine = sa.create_engine(stack.db_urls["customer"], poolclass=sa.pool.NullPool)

    def read_so_far():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT read_count FROM external_sync_runs WHERE factory_id = :f"),
                                {"f": factory}).scalar()
    assert wait_for(lambda: (read_so_far() or 0) >= 20, timeout=60), first.tail()
    first.kill(signal.SIGKILL)
    halfway = read_so_far()
    assert halfway < third_party[1].customers, "the run was killed before its end"

    second = Process("sync-external-rerun", argv, env, log_dir=stack.log_dir).start()
    assert wait_for(lambda: not second.alive(), timeout=120), second.tail()
    assert second.proc.returncode == 0, second.tail()
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT state, read_count FROM external_sync_runs WHERE factory_id = :f "
                                    "ORDER BY id"), {"f": factory}).all()
    engine.dispose()
    assert [state for state, _ in runs] == ["ABORTED", "SUCCEEDED"]
    assert tenant_state(stack, factory) == tenant_state(stack, clean)


def test_the_scheduled_worker_imports_changes_on_its_own_and_stops_on_sigterm(stack, third_party, factory):
    url, _fx = third_party
    env = {**stack.service_env("customer"), "EXTERNAL_SYNC_FACTORY": factory, "EXTERNAL_SYNC_INTERVAL": "1"}
    worker = Process("customer-sync", [CLI, "sync-external", "--schedule"], env, log_dir=stack.log_dir).start()
    call = api(stack, factory)
    try:
        assert wait_for(lambda: records(call, "120"), timeout=120), worker.tail()
        touch(url, 120, customer_name="三方客户0120（定时）")

        def renamed():
            items = records(call, "120")
            return len(items) == 2 and items
        items = wait_for(renamed, timeout=60)
        assert items, worker.tail()
        customer = call("GET", f"/api/v1/customers/{items[0]['entity_id']}").json()["data"]
        assert customer["name"] == "三方客户0120（定时）"
    finally:
        worker.stop()
    assert worker.proc.returncode == 0, worker.tail()
