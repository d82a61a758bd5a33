"""``sync-worker migrate | serve | consume``."""
from __future__ import annotations

from pathlib import Path

from crm_common.cli import service_main
from crm_common.workers import consumer_command

from .adapters.orm import applied_versions, processed_events
from .entrypoints import consumer

SERVICE_DIR = Path(__file__).resolve().parent.parent


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
