"""``analytics-service migrate | serve | relay | consume | rebuild``."""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from crm_common import logs
from crm_common.cli import service_main
from crm_common.config import Settings
from crm_common.db import make_engine, make_session_factory
from crm_common.workers import consumer_command, relay_command

from .adapters import orm
from .adapters.broker import BINDINGS, QUEUE
from .adapters.snapshots import CUSTOMERS_PATH, VIEWING_RECORDS_PATH, admin_tokens, snapshot_pages
from .service_layer import projection
from .service_layer import rebuild as rebuilding

SERVICE_DIR = Path(__file__).resolve().parent.parent
CONSUMER = QUEUE  # the name the consumer records its events and versions under


def rebuild_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="analytics-service rebuild",
        description="Replace the read model with customer-service's and viewing-service's current state "
                    "(their /internal/.../snapshot endpoints). Orders are kept.")
    parser.add_argument("--only", choices=["customers", "viewing-records"], action="append",
                        help="rebuild only this source (repeatable); default: both")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    settings = Settings.from_env("analytics")
    logs.configure_logging("analytics-rebuild", settings.log_level)
    pages = partial(snapshot_pages, tokens=admin_tokens(settings), page_size=args.page_size,
                    timeout=settings.get_float("SNAPSHOT_TIMEOUT", 30.0))
    available = rebuilding.sources(
        partial(pages, settings.service_urls["customer"], CUSTOMERS_PATH),
        partial(pages, settings.service_urls["viewing"], VIEWING_RECORDS_PATH))
    chosen = [available[name] for name in (args.only or ["customers", "viewing-records"])]
    engine = make_engine(settings.database_url, pool_size=1)
    report = rebuilding.rebuild(make_session_factory(engine), chosen, consumer=CONSUMER)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    consume = consumer_command("analytics", name=CONSUMER, queue=QUEUE, bindings=BINDINGS,
                               processed=orm.processed_events, versions=orm.applied_versions,
                               handler_factory=projection.make_handler)
    return service_main(service="analytics", app_path="analytics_service.app:create_app()",
                        service_dir=SERVICE_DIR, default_port=8003,
                        extra={"relay": relay_command("analytics", orm.outbox), "consume": consume,
                               "rebuild": rebuild_command}, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
