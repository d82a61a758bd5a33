"""Issue 21: the import from the third party's MySQL against the real MariaDB on this
machine (a database per run, created and dropped) and the run's PostgreSQL database."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from crm_common.config import Settings
from crm_common.context import system_context
from crm_testing import TEST_JWT_SECRET, wait_for
from crm_testing.third_party import fill, mysql_database, touch, writer
from customer_service import sync_jobs
from customer_service.bootstrap import bootstrap
from customer_service.domain.errors import SyncRunInProgress
from customer_service.service_layer import external_import

SOURCE = "RB"


@pytest.fixture(scope="module")
def third_party():
    with mysql_database() as url:
        fixture = fill(url, customers=300, companies=40)
        yield url, fixture


@pytest.fixture(scope="module")
def service(pg_url, third_party):
    settings = Settings.from_env("customer", {"CUSTOMER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
                                              "EXTERNAL_MYSQL_URL": third_party[0],
                                              "EXTERNAL_SYNC_BATCH_SIZE": "50"})
    svc = bootstrap(settings)
    yield svc
    svc.external.dispose()
    svc.engine.dispose()


@pytest.fixture
def small_third_party(service):
    """A third party of its own (fewer rows), for tests that change it or run it often;
    ``(url, fixture, service reading it)``."""
    with mysql_database() as url:
        fixture = fill(url, customers=90, companies=12)
        own = bootstrap(Settings.from_env("customer", {**service.settings.raw, "EXTERNAL_MYSQL_URL": url}))
        try:
            yield url, fixture, own
        finally:
            own.external.dispose()
            own.engine.dispose()


@pytest.fixture(scope="module")
def imported(service):
    """A tenant with one clean run of the whole fixture: (factory, that run)."""
    factory = "FIMPORT" + uuid.uuid4().hex[:6].upper()
    before = imports_counted()
    result = run(service, factory)
    after = imports_counted()
    return factory, {**result, "metrics": {k: after[k] - before[k] for k in after}}


def imports_counted() -> dict[str, float]:
    """crm_external_imports_total{source="RB"} by outcome, in this process."""
    from prometheus_client import REGISTRY
    return {outcome: REGISTRY.get_sample_value("crm_external_imports_total", {"source": SOURCE, "outcome": outcome})
            or 0.0 for outcome in external_import.OUTCOMES}


def run(service, factory: str) -> dict:
    run_id, _ = sync_jobs.start(service, system_context(factory, sub="external-sync"), SOURCE, "cli",
                                background=False)
    return external_import.get_run(service.uow(), system_context(factory), run_id)


def state_of(service, factory: str) -> dict:
    """What an import left in the tenant: customers by remote id, companies, audit rows and
    events (what "the same state" compares)."""
    with service.engine.connect() as conn:
        customers = conn.execute(sa.text(
            "SELECT c.source_ref_id, c.name, c.primary_contact_phone, c.email, c.customer_code, co.company_code, "
            "co.source_ref_id AS company_ref, c.version FROM customers c LEFT JOIN companies co ON co.id = c.company_id "
            "WHERE c.factory_id = :f AND c.source = :s"), {"f": factory, "s": SOURCE}).mappings().all()
        companies = conn.execute(sa.text(
            "SELECT source_ref_id, company_code, name FROM companies WHERE factory_id = :f"),
            {"f": factory}).mappings().all()
        audit = conn.execute(sa.text(
            "SELECT remote_id, sync_status, count(*) AS n FROM external_sync WHERE factory_id = :f AND source = :s "
            "GROUP BY remote_id, sync_status"), {"f": factory, "s": SOURCE}).mappings().all()
        events = conn.execute(sa.text(
            "SELECT o.event_type, count(*) FROM outbox o JOIN customers c ON o.aggregate_id = CAST(c.id AS TEXT) "
            "WHERE o.aggregate_type = 'customer' AND c.factory_id = :f GROUP BY o.event_type"),
            {"f": factory}).all()
    return {"customers": {r["source_ref_id"]: {k: v for k, v in r.items() if k != "customer_code"}
                          for r in customers},
            "codes": sorted(r["customer_code"][:12] for r in customers),
            "companies": sorted((r["source_ref_id"], r["company_code"], r["name"]) for r in companies),
            "audit": {(r["remote_id"], r["sync_status"]): r["n"] for r in audit},
            "events": dict(events)}


def test_first_run_imports_valid_records_and_audits_invalid_ones_then_a_second_run_changes_nothing(
        service, third_party, imported):
    url, fx = third_party
    factory, first = imported
    assert first["state"] == "SUCCEEDED"
    assert first["counts"] == {"read": 300, "created": len(fx.valid), "updated": 0, "unchanged": 0,
                               "failed": len(fx.invalid)}
    assert first["metrics"] == {"created": len(fx.valid), "updated": 0, "unchanged": 0, "failed": len(fx.invalid)}
    state = state_of(service, factory)
    assert set(state["customers"]) == {str(i) for i in fx.valid}
    assert all(code.startswith("RB-") for code in state["codes"])      # the source-prefix strategy
    assert {k for k, n in state["audit"].items() if n != 1} == set()
    assert {rid for rid, status in state["audit"] if status == "SUCCESS"} == {str(i) for i in fx.valid}
    assert {rid for rid, status in state["audit"] if status == "FAILED"} == {str(i) for i in fx.invalid}
    assert state["events"] == {"customer.created": len(fx.valid)}
    with service.engine.connect() as conn:
        reason = conn.execute(sa.text("SELECT error_message FROM external_sync WHERE factory_id = :f "
                                      "AND remote_id = '31'"), {"f": factory}).scalar_one()
    assert "EXTERNAL_RECORD_INVALID" in reason and "primary_contact_phone" in reason

    second = run(service, factory)
    assert second["counts"] == {"read": 0, "created": 0, "updated": 0, "unchanged": 0, "failed": 0}
    assert second["start_watermark"] == first["watermark"]
    assert state_of(service, factory) == state

    # Read everything again from the start: the same content changes nothing, audits nothing.
    with service.engine.begin() as conn:
        conn.execute(sa.text("UPDATE external_sync_runs SET watermark = NULL WHERE factory_id = :f"), {"f": factory})
    again = run(service, factory)
    assert again["counts"] == {"read": 300, "created": 0, "updated": 0, "unchanged": 300, "failed": 0}
    assert state_of(service, factory) == state


def test_a_company_shared_by_several_customers_is_created_once(service, third_party, imported):
    url, fx = third_party
    state = state_of(service, imported[0])
    used = {fx.company_of(i) for i in fx.valid} - {None}
    assert len(state["companies"]) == len(used)
    assert sorted(ref for ref, _code, _name in state["companies"]) == sorted(str(i) for i in used)
    assert all(code == (f"TPC{int(ref):03d}" if int(ref) % 2 else None) for ref, code, _ in state["companies"])
    sharing = [c for c in state["customers"].values() if c["company_ref"] == "2"]
    assert len(sharing) > 3


def test_rows_changed_in_mysql_are_updated_on_the_next_run(small_third_party, factory):
    own_url, _fx, own = small_third_party
    run(own, factory)
    before = state_of(own, factory)
    touch(own_url, 2, customer_name="三方客户0002（改名）", mobile="13911112222")
    touch(own_url, 3)                                   # touched, content the same
    touch(own_url, 25, customer_name="三方客户0025")     # the invalid one, fixed
    touch(own_url, 4, company_id=1)                     # moves to another company
    result = run(own, factory)
    assert result["counts"] == {"read": 4, "created": 1, "updated": 2, "unchanged": 1, "failed": 0}
    after = state_of(own, factory)
    assert after["customers"]["2"]["name"] == "三方客户0002（改名）"
    assert after["customers"]["2"]["primary_contact_phone"] == "13911112222"
    assert after["customers"]["2"]["version"] == before["customers"]["2"]["version"] + 1
    assert after["customers"]["3"] == before["customers"]["3"]
    assert after["customers"]["4"]["company_ref"] == "1"
    assert "25" in after["customers"] and after["audit"][("25", "SUCCESS")] == 1
    assert after["events"] == {"customer.created": before["events"]["customer.created"] + 1,
                               "customer.updated": 2}


def test_a_run_killed_halfway_and_run_again_ends_as_one_clean_run(small_third_party, factory, monkeypatch):
    _url, fx, service = small_third_party
    clean_factory = factory + "C"
    run(service, clean_factory)
    clean = state_of(service, clean_factory)

    real = external_import.import_record
    done = []

    def dies_after_40(*args, **kwargs):
        outcome = real(*args, **kwargs)         # the record's transaction is committed ...
        done.append(outcome)
        if len(done) == 40:
            raise KeyboardInterrupt("killed")   # ... and the process dies before its watermark is
        return outcome

    monkeypatch.setattr(external_import, "import_record", dies_after_40)
    ctx = system_context(factory, sub="external-sync")
    started = external_import.start_run(service.uow, service.engine, ctx, SOURCE, "cli")
    with pytest.raises(KeyboardInterrupt):
        external_import.execute_run(service.uow, service.external, ctx, started, batch_size=50)
    monkeypatch.setattr(external_import, "import_record", real)
    killed = external_import.get_run(service.uow(), ctx, started.run_id)
    assert killed["counts"]["read"] == 39 and killed["state"] == "FAILED"

    resumed = run(service, factory)
    assert resumed["start_watermark"] == killed["watermark"]
    assert resumed["counts"]["read"] == fx.customers - 39
    assert resumed["counts"]["unchanged"] == 1          # the record done but not counted: nothing again
    assert state_of(service, factory) == clean


def test_our_database_failing_on_a_record_stops_the_run_and_the_next_run_imports_it(small_third_party, factory,
                                                                                       monkeypatch):
    _url, fx, service = small_third_party
    from customer_service.service_layer import customers
    real = customers.insert
    calls = []

    def fails_on_the_fifth(uow, ctx, new, company=None):
        calls.append(new[0].source_ref_id)
        if len(calls) == 5:   # inside create_customer's transaction: rolled back, audited FAILED
            raise sa.exc.OperationalError("INSERT", {}, Exception("server closed the connection"))
        return real(uow, ctx, new, company)

    monkeypatch.setattr(customers, "insert", fails_on_the_fifth)
    with pytest.raises(sa.exc.OperationalError):
        run(service, factory)
    monkeypatch.setattr(customers, "insert", real)
    failed_on = calls[4]
    rerun = run(service, factory)
    assert rerun["state"] == "SUCCEEDED" and rerun["counts"]["created"] == len(fx.valid) - 4
    state = state_of(service, factory)
    assert set(state["customers"]) == {str(i) for i in fx.valid}
    assert state["audit"][(failed_on, "FAILED")] == 1 and state["audit"][(failed_on, "SUCCESS")] == 1
    assert {rid for rid, status in state["audit"] if status == "FAILED"} == {str(i) for i in fx.invalid} | {failed_on}


def test_two_runs_of_a_source_never_overlap(service, third_party, factory):
    ctx = system_context(factory, sub="external-sync")
    first = external_import.start_run(service.uow, service.engine, ctx, SOURCE, "cli")
    try:
        with pytest.raises(SyncRunInProgress) as refused:
            sync_jobs.start(service, ctx, SOURCE, "api", background=False)
        assert str(first.run_id) in refused.value.message
    finally:
        external_import.execute_run(service.uow, service.external, ctx, first, should_stop=lambda: True)
    stopped = external_import.get_run(service.uow(), ctx, first.run_id)
    assert stopped["state"] == "ABORTED" and stopped["counts"]["read"] == 1
    after = external_import.start_run(service.uow, service.engine, ctx, SOURCE, "cli")   # the lock is free again
    external_import.execute_run(service.uow, service.external, ctx, after, should_stop=lambda: True)
    assert external_import.get_run(service.uow(), ctx, after.run_id)["start_watermark"] == stopped["watermark"]


def test_a_run_whose_process_died_shows_as_aborted(service, factory):
    ctx = system_context(factory, sub="external-sync")
    started = external_import.start_run(service.uow, service.engine, ctx, SOURCE, "cli")
    try:
        assert external_import.get_run(service.uow(), ctx, started.run_id, service.engine)["state"] == "RUNNING"
    finally:
        started.lock.release()              # its session ends, as when the process dies
    shown = external_import.get_run(service.uow(), ctx, started.run_id, service.engine)
    assert shown["state"] == "ABORTED" and shown["finished_at"] is None


def test_a_write_through_the_gateway_fails_and_changes_nothing(service, third_party):
    url, fx = third_party
    engine = service.external.engine
    for statement in ("INSERT INTO customers (id, customer_name, updated_at) VALUES (9999, 'x', NOW())",
                      "UPDATE customers SET customer_name = 'hacked' WHERE id = 1",
                      "DELETE FROM customers WHERE id = 2",
                      "CREATE TABLE gateway_write_probe (id INT)"):
        with engine.connect() as conn:
            with pytest.raises(sa.exc.OperationalError, match="READ ONLY"):
                conn.execute(sa.text(statement))
                conn.commit()
    check = writer(url)
    with check.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one() == fx.customers
        assert conn.execute(sa.text("SELECT customer_name FROM customers WHERE id = 1")).scalar_one() == "三方客户0001"
        assert conn.execute(sa.text("SHOW TABLES LIKE 'gateway_write_probe'")).first() is None
    check.dispose()


def test_the_api_starts_a_run_for_admins_and_shows_its_counts(pg_url, small_third_party, factory, headers_for):
    from customer_service.app import create_app
    url, fx, _ = small_third_party
    app = create_app(Settings.from_env("customer", {"CUSTOMER_DATABASE_URL": pg_url, "JWT_SECRET": TEST_JWT_SECRET,
                                                    "EXTERNAL_MYSQL_URL": url}))
    client = app.test_client()
    staff = headers_for(roles=("sales_admin",), factories=(factory,))
    assert client.post("/api/v1/external-sync/runs", json={"source": "RB"}, headers=staff).status_code == 403
    admin = headers_for(roles=("admin",), factories=(factory,))
    started = client.post("/api/v1/external-sync/runs", json={"source": "RB"}, headers=admin)
    assert started.status_code == 202, started.json
    run_id = started.json["data"]["id"]
    assert started.headers["Location"] == f"/api/v1/external-sync/runs/{run_id}"

    def finished():
        body = client.get(f"/api/v1/external-sync/runs/{run_id}", headers=admin).json["data"]
        return body if body["state"] != "RUNNING" else None
    result = wait_for(finished, timeout=60, interval=0.2)
    assert result["state"] == "SUCCEEDED"
    assert result["counts"]["created"] == len(fx.valid) and result["counts"]["failed"] == len(fx.invalid)
    assert client.get("/api/v1/external-sync/runs/999999999", headers=admin).status_code == 404
    records = client.get("/api/v1/external-sync?remoteId=1&source=RB", headers=admin).json["data"]
    assert [r["sync_status"] for r in records["items"]] == ["SUCCESS"]
    assert client.get("/readyz").json["checks"]["external_mysql"]["ok"] is True


def test_with_no_external_mysql_the_import_is_off_and_says_so(client, headers_for):
    ready = client.get("/readyz").json["checks"]["external_mysql"]
    assert ready["ok"] is True and ready["detail"].startswith("off")
    response = client.post("/api/v1/external-sync/runs", json={}, headers=headers_for())
    assert response.status_code == 409  # a setting, not an outage: 4xx, no Retry-After
    assert response.json["success"] is False and "EXTERNAL_MYSQL_URL" in response.json["message"]
    assert response.json["error_code"] == "EXTERNAL_IMPORT_DISABLED" and "Retry-After" not in response.headers
