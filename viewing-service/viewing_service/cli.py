"""``viewing-service migrate | serve | relay | consume``."""
from __future__ import annotations

from crm_common.cli import service_main
from crm_common.migrations import migrations_home
from crm_common.workers import consumer_command, relay_command

from .adapters.orm import applied_versions, outbox, processed_events, start_mappers
from .entrypoints import consumer

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("viewing_service")


def main(argv: list[str] | None = None) -> int:
    return service_main(
        service="viewing", app_path="viewing_service.app:create_app()", service_dir=SERVICE_DIR, default_port=8002,
        extra={
            "relay": relay_command("viewing", outbox),
            "consume": consumer_command("viewing", name=consumer.CONSUMER_NAME, queue=consumer.QUEUE,
                                        bindings=consumer.BINDINGS, processed=processed_events,
                                        versions=applied_versions, handler_factory=consumer.handler_factory,
                                        unit_of_work=consumer.unit_of_work, start_mappers=start_mappers,
                                        batch_size=consumer.BATCH_SIZE),
        },
        argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
