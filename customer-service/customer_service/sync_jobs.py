"""Issue 21: where runs of the import from the third party's MySQL start — the API (in a
background thread of the worker that took the request), ``customer-service sync-external``
(in the foreground) and its ``--schedule`` loop (every ``EXTERNAL_SYNC_INTERVAL`` seconds,
the Procfile's ``customer-sync`` process)."""
from __future__ import annotations

import argparse
import json
import signal
import threading
import time

from crm_common import logs
from crm_common.config import Settings
from crm_common.context import RequestContext, system_context
from crm_common.heartbeat import Heartbeat
from crm_common.metrics import start_metrics_server

from .bootstrap import CustomerService, bootstrap
from .domain.errors import ExternalImportOff, SyncRunInProgress
from .domain.external_import import DEFAULT_SOURCE
from .service_layer import external_import

log = logs.get_logger("customer.sync_jobs")


def batch_size(service: CustomerService) -> int:
    return max(1, service.settings.get_int("EXTERNAL_SYNC_BATCH_SIZE", 200))


def start(service: CustomerService, ctx: RequestContext, source: str, trigger: str, *,
          background: bool, should_stop=lambda: False) -> tuple[int, threading.Thread | None]:
    """Open a run (refused when the import is off or a run of the source is going) and
    execute it, here or in a thread. Returns the run's id (and the thread)."""
    if service.external is None:
        raise ExternalImportOff()
    run = external_import.start_run(service.uow, service.engine, ctx, source, trigger)

    def execute():
        try:
            external_import.execute_run(service.uow, service.external, ctx, run, batch_size=batch_size(service))
        except Exception:  # noqa: BLE001 - recorded on the run (FAILED) and logged
            pass

    if not background:
        external_import.execute_run(service.uow, service.external, ctx, run, batch_size=batch_size(service),
                                    should_stop=should_stop)
        return run.run_id, None
    thread = threading.Thread(target=execute, name=f"external-sync-{run.run_id}", daemon=True)
    thread.start()
    return run.run_id, thread


def sync_external_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="customer-service sync-external",
                                     description="Import customers from the third party's MySQL (EXTERNAL_MYSQL_URL)")
    parser.add_argument("--source", default=DEFAULT_SOURCE, help="source system code (default RB)")
    parser.add_argument("--factory", default=None,
                        help="tenant the customers belong to (default EXTERNAL_SYNC_FACTORY)")
    parser.add_argument("--schedule", action="store_true",
                        help="keep running: one run every EXTERNAL_SYNC_INTERVAL seconds (the worker process)")
    args = parser.parse_args(argv)
    settings = Settings.from_env("customer")
    logs.configure_logging("customer-sync", settings.log_level)
    service = bootstrap(settings)
    factory = args.factory or settings.get("EXTERNAL_SYNC_FACTORY")
    if args.schedule:
        start_metrics_server(settings.get_int("METRICS_PORT", 0))
        return schedule(service, factory, args.source)
    if service.external is None:
        print("external import off: EXTERNAL_MYSQL_URL is not set")
        return 2
    if not factory:
        print("name the tenant: --factory F001 or EXTERNAL_SYNC_FACTORY")
        return 2
    ctx = system_context(factory, sub="external-sync", name="外部同步")
    try:
        run_id, _ = start(service, ctx, args.source, "cli", background=False)
    except SyncRunInProgress as exc:
        print(exc.message)
        return 3
    with service.uow() as uow:
        view = external_import.run_view(uow.sync_runs.get(factory, run_id))
    print(json.dumps(view, default=str, ensure_ascii=False))
    return 0 if view["state"] == external_import.SUCCEEDED else 1


def schedule(service: CustomerService, factory: str | None, source: str) -> int:
    """One run every ``EXTERNAL_SYNC_INTERVAL`` seconds (default 300) until SIGTERM/SIGINT,
    which stops a run between two records (ABORTED; the next run resumes after it). The
    loop touches ``HEARTBEAT_FILE`` while it waits and after every record (liveness probe).
    With the import off (or no ``EXTERNAL_SYNC_FACTORY``) the process stays up and idle, so
    that ``make run`` (honcho) keeps the rest of the set running."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    heartbeat = Heartbeat.from_env()
    interval = max(1.0, service.settings.get_float("EXTERNAL_SYNC_INTERVAL", 300.0))

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set() and time.monotonic() < deadline:
            heartbeat.beat()
            stop.wait(min(5.0, max(0.0, deadline - time.monotonic())))

    def should_stop() -> bool:
        heartbeat.beat()
        return stop.is_set()

    if service.external is None or not factory:
        log.info("external_sync_off", reason="EXTERNAL_MYSQL_URL not set" if service.external is None
                 else "EXTERNAL_SYNC_FACTORY not set")
        while not stop.is_set():
            wait(3600)
        return 0
    ctx = system_context(factory, sub="external-sync", name="外部同步")
    log.info("external_sync_scheduled", source=source, factory=factory, interval=interval)
    while not stop.is_set():
        try:
            run_id, _ = start(service, ctx, source, "schedule", background=False, should_stop=should_stop)
            log.info("external_sync_scheduled_run", run_id=run_id)
        except SyncRunInProgress:
            log.info("external_sync_skipped", reason="a run of the source is going")
        except Exception as exc:  # noqa: BLE001 - next interval tries again
            log.error("external_sync_scheduled_failed", error=type(exc).__name__)
        wait(interval)
    return 0
