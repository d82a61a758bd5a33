"""The issuer starts on make run's SQLite default, answers its health endpoints and documents itself."""
from crm_testing import check_service_starts_on_sqlite
from token_issuer.app import create_app
from token_issuer.cli import SERVICE_DIR


def test_health_readiness_and_openapi_on_sqlite(tmp_path, monkeypatch):
    monkeypatch.setenv("CRM_HOME", str(tmp_path))  # the development key-encryption key goes under var/
    check_service_starts_on_sqlite(create_app, SERVICE_DIR, "issuer", tmp_path)
