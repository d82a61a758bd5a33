"""The service starts on make run's SQLite default, answers its health endpoints and documents itself."""
from crm_testing import check_service_starts_on_sqlite
from webhook_service.app import create_app
from webhook_service.cli import SERVICE_DIR


def test_health_readiness_and_openapi_on_sqlite(tmp_path):
    check_service_starts_on_sqlite(create_app, SERVICE_DIR, "webhook", tmp_path)
