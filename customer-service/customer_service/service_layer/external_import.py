"""Issue 21 / seed 003: the import-sync from the third party's MySQL.

A run reads the customers changed after the source's watermark (``ExternalCustomerGateway``)
and takes each record through the customer core on its own:

- never imported: ``create_customer`` (company upsert + customer + its event + a SUCCESS
  external-sync row, one transaction; a failure leaves a FAILED row of its own);
- imported before: ``sync_imported_customer`` (the same, as an update; the same content
  again writes nothing and emits nothing);
- breaking our rules: a FAILED row with the reasons (the same invalid content again is not
  audited twice).

After each record the run's counts and watermark are committed, so that a run stopped or
killed anywhere resumes after the last record done; a record done but not yet counted comes
again and changes nothing. Two runs of one source never overlap: a PostgreSQL advisory lock
held by the run's own connection (released when the run ends or its process dies)."""
from __future__ import annotations

import re
import threading
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable

import sqlalchemy as sa
from prometheus_client import Counter, Histogram
from sqlalchemy.engine import Connection, Engine

from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.logs import get_logger
from crm_common.metrics import gauge

from ..adapters.external_mysql import ExternalCustomerGateway
from ..domain import commands
from ..domain import external_import as rules
from ..domain.errors import AlreadyImported, InvalidExternalRecord, SyncRunInProgress, SyncRunNotFound
from ..domain.external_sync import FAILED, ExternalOrigin
from . import customers, external_sync
from .unit_of_work import CustomerUnitOfWork

log = get_logger("customer.external_import")

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
FAILED_OUTCOME = "failed"
OUTCOMES = (CREATED, UPDATED, UNCHANGED, FAILED_OUTCOME)
RUNNING, SUCCEEDED, RUN_FAILED, ABORTED = "RUNNING", "SUCCEEDED", "FAILED", "ABORTED"
LOCK_NAMESPACE = 7021

IMPORTS = Counter("crm_external_imports_total", "Records of the third party's MySQL imported, by outcome",
                  ["source", "outcome"])
RUN_DURATION = Histogram("crm_external_sync_run_duration_seconds", "Duration of an external import run",
                         ["source", "state"], buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600))
BEHIND = gauge("crm_external_sync_records_behind", "Third-party customers changed after the watermark",
               ["source"])
LAST_SUCCESS = gauge("crm_external_sync_last_success_timestamp_seconds",
                     "When the source's last run succeeded (unix time)", ["source"])

UowFactory = Callable[[], CustomerUnitOfWork]
# Our database gone (not the record's fault): the run stops, the record is not passed.
UNREACHABLE = (sa.exc.OperationalError, sa.exc.InterfaceError)
_REFUSED = re.compile(r"^[A-Z][A-Z0-9_]+: ")   # a FAILED row's reason that starts with a business error code


# --- one record ---------------------------------------------------------------------------------

def import_record(uow_factory: UowFactory, ctx: RequestContext, source: str, record: rules.ExternalRecord) -> str:
    """One third-party record through the customer core; its outcome."""
    origin = ExternalOrigin(source, record.remote_id)
    fields = rules.customer_fields(record, source)
    company = rules.company_fields(record, source)
    payload = {"customer": fields, "company": company}
    with uow_factory() as uow:
        latest = uow.external_sync.latest(ctx.factory_id, source, record.remote_id)
        existing = uow.external_sync.imported_customer(ctx.factory_id, source, record.remote_id)
    if latest is not None and latest["payload"] == external_sync._payload(payload) and (
            (latest["sync_status"] == FAILED and existing is None and _REFUSED.match(latest["error_message"] or ""))
            or (latest["sync_status"] != FAILED and existing is not None)):
        # The content last audited for this record again: a refusal is audited once, and an
        # import that succeeded has nothing to apply (nor to undo: edits made here since stay).
        # A failure of ours (no business error code) is tried again.
        return UNCHANGED
    problems = rules.problems(record)
    if problems:
        external_sync.record_failure(uow_factory(), ctx, origin, InvalidExternalRecord(problems), payload)
        return FAILED_OUTCOME
    if existing is None:
        try:
            customers.create_customer(commands.CreateCustomer(ctx, fields, company, origin), uow_factory())
            return CREATED
        except AlreadyImported as exc:  # another writer imported it meanwhile: update that customer
            existing = exc.params["customer_id"]
        except UNREACHABLE:
            raise  # the run stops before its watermark passes the record; the next run retries it
        except Exception as exc:  # noqa: BLE001 - audited as FAILED by create_customer
            log.info("external_import_failed", source=source, remote_id=record.remote_id,
                     error=getattr(exc, "error_code", None) or type(exc).__name__)
            return FAILED_OUTCOME
    try:
        changed = customers.sync_imported_customer(
            commands.SyncImportedCustomer(ctx, existing, fields, origin, company), uow_factory())
    except UNREACHABLE:
        raise
    except Exception as exc:  # noqa: BLE001 - audited as FAILED by sync_imported_customer
        log.info("external_import_failed", source=source, remote_id=record.remote_id,
                 error=getattr(exc, "error_code", None) or type(exc).__name__)
        return FAILED_OUTCOME
    return UPDATED if changed else UNCHANGED


# --- the lock -------------------------------------------------------------------------------------

_local_locks: dict[tuple[str, str], threading.Lock] = {}
_local_guard = threading.Lock()


class SourceLock:
    """Held while a run of (tenant, source) goes on. PostgreSQL: a session advisory lock on
    a connection of its own (a dead process's lock goes with its connection); SQLite (a
    developer's single process): a lock of the process."""

    def __init__(self, engine: Engine, factory_id: str, source: str):
        self.engine, self.key = engine, zlib.crc32(f"{factory_id}\x1f{source}".encode()) - 2**31
        self.local_key = (factory_id, source)
        self.conn: Connection | None = None
        self.local: threading.Lock | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name != "postgresql":
            with _local_guard:
                lock = _local_locks.setdefault(self.local_key, threading.Lock())
            if not lock.acquire(blocking=False):
                return False
            self.local = lock
            return True
        conn = self.engine.connect()
        got = conn.execute(sa.text("SELECT pg_try_advisory_lock(:ns, :key)"),
                           {"ns": LOCK_NAMESPACE, "key": self.key}).scalar_one()
        conn.commit()
        if not got:
            conn.close()
            return False
        self.conn = conn
        return True

    def held(self) -> bool:
        """Does some session hold the lock (a run going on)? PostgreSQL only; elsewhere: yes."""
        if self.engine.dialect.name != "postgresql":
            return True
        with self.engine.connect() as conn:
            return bool(conn.execute(sa.text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = :ns AND objid = :key AND objsubid = 2)"),
                {"ns": LOCK_NAMESPACE, "key": self.key & 0xFFFFFFFF}).scalar())

    def release(self) -> None:
        if self.local is not None:
            self.local.release()
            self.local = None
        if self.conn is not None:
            try:
                self.conn.execute(sa.text("SELECT pg_advisory_unlock(:ns, :key)"),
                                  {"ns": LOCK_NAMESPACE, "key": self.key})
                self.conn.commit()
            finally:
                self.conn.close()
                self.conn = None


# --- runs ----------------------------------------------------------------------------------------

@dataclass
class RunCounts:
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        self.read += 1
        setattr(self, outcome, getattr(self, outcome) + 1)

    def columns(self) -> dict:
        return {"read_count": self.read, "created_count": self.created, "updated_count": self.updated,
                "unchanged_count": self.unchanged, "failed_count": self.failed}


@dataclass
class StartedRun:
    run_id: int
    factory_id: str
    source: str
    lock: SourceLock
    start: rules.Watermark | None
    counts: RunCounts = field(default_factory=RunCounts)


def start_run(uow_factory: UowFactory, engine: Engine, ctx: RequestContext, source: str, trigger: str) -> StartedRun:
    """Take the source's lock and open a run (RUNNING) after the last watermark; runs left
    RUNNING by a process that died are marked ABORTED. A run already going: refused."""
    lock = SourceLock(engine, ctx.factory_id, source)
    if not lock.acquire():
        with uow_factory() as uow:
            running = uow.sync_runs.running(ctx.factory_id, source)
        raise SyncRunInProgress(source=source, run_id=running["id"] if running else "?")
    try:
        with uow_factory() as uow:
            stale = uow.sync_runs.running(ctx.factory_id, source)
            while stale is not None:
                uow.sync_runs.update(stale["id"], state=ABORTED, finished_at=utcnow(),
                                     error_message="进程中断，下次运行从水位继续")
                stale = uow.sync_runs.running(ctx.factory_id, source)
            start = uow.sync_runs.last_watermark(ctx.factory_id, source)
            run_id = uow.sync_runs.add(factory_id=ctx.factory_id, source=source, state=RUNNING, trigger=trigger,
                                       read_count=0, created_count=0, updated_count=0, unchanged_count=0,
                                       failed_count=0, start_watermark=start, watermark=start,
                                       operator_id=ctx.operator_id, started_at=utcnow(), updated_at=utcnow())
            uow.commit()
    except BaseException:
        lock.release()
        raise
    log.info("external_sync_started", run_id=run_id, source=source, trigger=trigger, watermark=start)
    return StartedRun(run_id, ctx.factory_id, source, lock, rules.Watermark.parse(start))


def execute_run(uow_factory: UowFactory, gateway: ExternalCustomerGateway, ctx: RequestContext, run: StartedRun,
                *, batch_size: int = 200, should_stop: Callable[[], bool] = lambda: False) -> RunCounts:
    """Read and import until nothing changed is left (or ``should_stop``); the lock is
    released at the end whatever happens."""
    began = time.monotonic()
    state, error = RUN_FAILED, None
    try:
        watermark = run.start
        BEHIND.labels(run.source).set(gateway.count_behind(watermark))
        stopped = False
        while not stopped:
            records = gateway.changed_since(watermark, batch_size)
            if not records:
                break
            for record in records:
                outcome = import_record(uow_factory, ctx, run.source, record)
                IMPORTS.labels(run.source, outcome).inc()
                run.counts.add(outcome)
                watermark = record.watermark
                with uow_factory() as uow:
                    uow.sync_runs.update(run.run_id, watermark=watermark.to_text(), updated_at=utcnow(),
                                         **run.counts.columns())
                    uow.commit()
                if should_stop():
                    stopped = True
                    break
        state = ABORTED if stopped else SUCCEEDED
        BEHIND.labels(run.source).set(gateway.count_behind(watermark))
        if state == SUCCEEDED:
            LAST_SUCCESS.labels(run.source).set(time.time())
        return run.counts
    except Exception as exc:
        error = f"{type(exc).__name__}: 运行中断，下次运行从水位继续"
        log.error("external_sync_failed", run_id=run.run_id, source=run.source, error=type(exc).__name__)
        raise
    finally:
        try:
            with uow_factory() as uow:
                uow.sync_runs.update(run.run_id, state=state, error_message=error, finished_at=utcnow(),
                                     updated_at=utcnow(), **run.counts.columns())
                uow.commit()
        finally:
            run.lock.release()
            RUN_DURATION.labels(run.source, state).observe(time.monotonic() - began)
            log.info("external_sync_finished", run_id=run.run_id, source=run.source, state=state,
                     **run.counts.columns())


def run_view(row) -> dict:
    """A run as the API and the CLI show it."""
    return {"id": row["id"], "source": row["source"], "state": row["state"], "trigger": row["trigger"],
            "counts": {"read": row["read_count"], "created": row["created_count"], "updated": row["updated_count"],
                       "unchanged": row["unchanged_count"], "failed": row["failed_count"]},
            "start_watermark": row["start_watermark"], "watermark": row["watermark"],
            "error_message": row["error_message"], "started_at": row["started_at"],
            "finished_at": row["finished_at"]}


def get_run(uow: CustomerUnitOfWork, ctx: RequestContext, run_id: int, engine: Engine | None = None) -> dict:
    """The run; one still RUNNING whose source lock nobody holds died with its process
    (a worker recycled, a SIGKILL) and shows as ABORTED (the next run resumes after it)."""
    with uow:
        row = uow.sync_runs.get(ctx.factory_id, run_id)
    if row is None:
        raise SyncRunNotFound()
    view = run_view(row)
    if view["state"] == RUNNING and engine is not None \
            and not SourceLock(engine, ctx.factory_id, row["source"]).held():
        view.update(state=ABORTED, error_message="进程中断，下次运行从水位继续")
    return view
