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
