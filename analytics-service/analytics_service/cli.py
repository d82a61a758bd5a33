"""``analytics-service migrate | serve | relay | consume | rebuild``."""
from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

from crm_common import logs
from crm_common.cli import service_main
from crm_common.migrations import migrations_home
from crm_common.workers import relay_command

from .adapters import orm
from .adapters.snapshots import CUSTOMERS_PATH, VIEWING_RECORDS_PATH, admin_tokens, snapshot_pages
from .bootstrap import CONSUMER, SERVICE, bootstrap, consume_command
from .contracts import CATALOG
from .service_layer import rebuild as rebuilding

# alembic.ini and migrations/ are package data of this package, found through importlib.resources
# (crm_common.migrations.migrations_home): a wheel installed anywhere migrates from any directory.
SERVICE_DIR = migrations_home("analytics_service")
PROJECT_DIR = Path(__file__).resolve().parent.parent  # the checkout's analytics-service/ (event schemas)


def rebuild_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="analytics-service rebuild",
        description="Replace the read model with customer-service's and viewing-service's current state "
                    "(their /internal/.../snapshot endpoints). Orders are kept.")
    parser.add_argument("--only", choices=["customers", "viewing-records"], action="append",
                        help="rebuild only this source (repeatable); default: both")
    parser.add_argument("--page-size", type=int, default=1000)
    args = parser.parse_args(argv)
    analytics = bootstrap()
    settings = analytics.settings
    logs.configure_logging("analytics-rebuild", settings.log_level)
    pages = partial(snapshot_pages, tokens=admin_tokens(settings), page_size=args.page_size,
                    timeout=settings.get_float("SNAPSHOT_TIMEOUT", 30.0))
    available = rebuilding.sources(
        partial(pages, settings.service_urls["customer"], CUSTOMERS_PATH),
        partial(pages, settings.service_urls["viewing"], VIEWING_RECORDS_PATH))
    chosen = [available[name] for name in (args.only or ["customers", "viewing-records"])]
    report = rebuilding.rebuild(analytics.unit_of_work(), chosen, consumer=CONSUMER)
    print(json.dumps(report, ensure_ascii=False))
    return 0


def event_schemas_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="analytics-service event-schemas",
        description="Write the JSON Schema (draft 2020-12) of every event this service publishes "
                    "(analytics_service/contracts.py), one file per event type and version.")
    parser.add_argument("--out", type=Path, default=PROJECT_DIR / "contracts" / "events")
    args = parser.parse_args(argv)
    for path in CATALOG.write(args.out):
        print(path)
    return 0


def main(argv: list[str] | None = None) -> int:
    return service_main(service=SERVICE, app_path="analytics_service.app:create_app()",
                        service_dir=SERVICE_DIR, default_port=8003,
                        extra={"relay": relay_command(SERVICE, orm.outbox), "consume": consume_command(),
                               "rebuild": rebuild_command, "event-schemas": event_schemas_command}, argv=argv)


if __name__ == "__main__":
    raise SystemExit(main())
