"""``customer-service migrate | serve | relay | consume | sync-external``."""
from __future__ import annotations

from crm_common.cli import service_main
from crm_common.migrations import migrations_home
from crm_common.workers import relay_command

from .adapters.orm import outbox
from .entrypoints.consumers import consume_command
from .sync_jobs import sync_external_command

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("customer_service")


def main(argv: list[str] | None = None) -> int:
    return service_main(service="customer", app_path="customer_service.app:create_app()",
                        service_dir=SERVICE_DIR, default_port=8001,
                        extra={"relay": relay_command("customer", outbox), "consume": consume_command(),
                               "sync-external": sync_external_command}, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
