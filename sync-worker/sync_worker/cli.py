"""``sync-worker migrate | serve | consume``."""
from __future__ import annotations

from crm_common.cli import service_main
from crm_common.migrations import migrations_home
from crm_common.workers import consumer_command

from .adapters.orm import applied_versions, processed_events
from .entrypoints import consumer

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("sync_worker")


def main(argv: list[str] | None = None) -> int:
    return service_main(
        service="sync", app_path="sync_worker.app:create_app()", service_dir=SERVICE_DIR, default_port=8004,
        extra={
            "consume": consumer_command("sync", name=consumer.CONSUMER_NAME, queue=consumer.QUEUE,
                                        bindings=consumer.BINDINGS, processed=processed_events,
                                        versions=applied_versions, handler_factory=consumer.handler_factory,
                                        unit_of_work=consumer.unit_of_work, batch_size=consumer.BATCH_SIZE),
        },
        argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
