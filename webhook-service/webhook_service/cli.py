"""``webhook-service migrate | serve | consume | deliver``."""
from __future__ import annotations

from crm_common.cli import service_main
from crm_common.migrations import migrations_home
from crm_common.workers import consumer_command

from .adapters.orm import processed_events
from .entrypoints import consumer
from .entrypoints.deliverer import deliver_command

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("webhook_service")


def main(argv: list[str] | None = None) -> int:
    return service_main(
        service="webhook", app_path="webhook_service.app:create_app()", service_dir=SERVICE_DIR, default_port=8005,
        extra={
            "consume": consumer_command("webhook", name=consumer.CONSUMER_NAME, queue=consumer.QUEUE,
                                        bindings=consumer.BINDINGS, processed=processed_events, versions=None,
                                        handler_factory=consumer.handler_factory,
                                        unit_of_work=consumer.unit_of_work),
            "deliver": deliver_command,
        },
        argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
