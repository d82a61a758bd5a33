"""The service starts on make run's SQLite default, answers its health endpoints and documents itself."""
from crm_common.config import Settings
from crm_common.migrations import upgrade_head
from crm_testing import check_service_starts_on_sqlite
from sync_worker.app import create_app
from sync_worker.cli import SERVICE_DIR, main


def test_health_readiness_and_openapi_on_sqlite(tmp_path):
    check_service_starts_on_sqlite(create_app, SERVICE_DIR, "sync", tmp_path)


def test_it_publishes_nothing_so_it_has_no_outbox_and_no_relay(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade_head(SERVICE_DIR, url)
    app = create_app(Settings.from_env("sync", {"SYNC_DATABASE_URL": url, "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}))
    assert set(app.test_client().get("/readyz").get_json()["checks"]) == {"database", "broker"}
    import sqlalchemy as sa
    engine = sa.create_engine(url)
    assert "outbox" not in sa.inspect(engine).get_table_names()
    engine.dispose()
    assert main(["relay"]) == 2 and "relay" not in capsys.readouterr().err.split("[args]")[0]


def test_every_request_body_has_an_example_and_every_operation_declares_its_refusals(tmp_path):
    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade_head(SERVICE_DIR, url)
    app = create_app(Settings.from_env("sync", {"SYNC_DATABASE_URL": url}))
    spec = app.test_client().get("/openapi.json").get_json()
    operations = [(path, method, op) for path, item in spec["paths"].items() if path.startswith("/api/v1/")
                  for method, op in item.items() if method in ("get", "post", "put")]
    assert len(operations) == 12
    for path, method, op in operations:
        if "requestBody" in op:
            assert op["requestBody"]["content"]["application/json"].get("example"), (method, path)
        assert {"400", "401", "403", "503"} <= set(op["responses"]), (method, path)
        if "{" in path or "customer_id" in {p.get("name") for p in op.get("parameters", [])}:
            assert "404" in op["responses"], (method, path)
    batch = spec["paths"]["/api/v1/sync/customers"]["post"]["responses"]
    assert {"200", "207", "400"} <= set(batch)
    result = spec["paths"]["/api/v1/sync/customers/{customer_id}"]["post"]["responses"]["200"]
    assert result["content"]["application/json"]["example"]["message"] == "已同步 3 个项目的客户信息"
