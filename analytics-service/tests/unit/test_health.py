"""The service starts, answers its health endpoints and documents itself."""
from crm_common.config import Settings
from openapi_spec_validator import validate

from analytics_service.app import create_app


def test_health_readiness_and_openapi(tmp_path):
    from crm_common.migrations import upgrade_head
    from analytics_service.cli import SERVICE_DIR

    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade_head(SERVICE_DIR, url)
    app = create_app(Settings.from_env("analytics", {"ANALYTICS_DATABASE_URL": url,
                                                      "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}))
    client = app.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"]["database"]["ok"] is True
    assert ready.get_json()["checks"]["broker"]["ok"] is False  # reported, not fatal
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert "/healthz" in spec["paths"]
    assert client.get("/docs").status_code == 200
