"""Customer synchronisation (seed 004): copy a customer's name, contact and phone into its
projects and contracts, incrementally, and record each synchronisation in the history.

Three ways in: a ``customer.updated`` event (the consumer), a manual sync of one or many
customers, and ``sync-from-contract`` for one project. Runs after the customer update has
committed in customer-service, so a failure here can never undo it."""
from __future__ import annotations

import datetime as dt

from crm_common import logs
from crm_common.context import RequestContext
from crm_common.db import utcnow
from crm_common.errors import AppError, NotFound

from ..adapters.customer_client import CustomerServiceUnavailable
from ..adapters.repository import paginate
from ..domain import rules
from ..domain.model import CustomerInfo, SyncResult
from .customers import SOURCE_CUSTOMER_SERVICE, SOURCE_EVENT, FetchCustomer, current_customer
from .unit_of_work import EventTransaction, SyncUnitOfWork

log = logs.get_logger("sync_worker.sync")

# Who ``updated_by`` names on rows that an event synchronised.
SYNC_OPERATOR = ("sync-worker", "客户信息自动同步")
MAX_BATCH = 100


# --- the two seed functions ------------------------------------------------------------------

def sync_customer_to_projects(tx, info: CustomerInfo, *, operator: tuple[str | None, str | None],
                              now: dt.datetime) -> tuple[list[int], list[str]]:
    """Seed 004 §2.1 ``sync_customer_to_projects``: every project of the customer gets the
    customer's fields; only differing fields are written. -> (project ids, fields written)."""
    updated, fields = [], set()
    for project in tx.projects.of_customer(info.factory_id, info.customer_id, for_update=True):
        written = project.copy_customer(info, operator_id=operator[0], operator_name=operator[1], now=now)
        if written:
            updated.append(project.id)
            fields.update(written)
    return updated, rules.ordered_fields(fields)


def sync_customer_to_contracts(tx, info: CustomerInfo, *, operator: tuple[str | None, str | None],
                               now: dt.datetime) -> tuple[list[int], list[str]]:
    """Seed 004 §2.1 ``sync_customer_to_contracts``: the same for contracts."""
    updated, fields = [], set()
    for contract in tx.contracts.of_customer(info.factory_id, info.customer_id, for_update=True):
        written = contract.copy_customer(info, operator_id=operator[0], operator_name=operator[1], now=now)
        if written:
            updated.append(contract.id)
            fields.update(written)
    return updated, rules.ordered_fields(fields)


def sync_customer(tx, info: CustomerInfo, *, operator, now: dt.datetime) -> SyncResult:
    projects, project_fields = sync_customer_to_projects(tx, info, operator=operator, now=now)
    contracts, contract_fields = sync_customer_to_contracts(tx, info, operator=operator, now=now)
    tx.flush()
    return SyncResult(info.customer_id, projects, contracts, project_fields, contract_fields)


def _record(tx, info: CustomerInfo, result: SyncResult | None, *, trigger: str, outcome: str,
            changed_fields, trace_id=None, operator=(None, None), event: dict | None = None,
            error: str | None = None, now: dt.datetime | None = None) -> None:
    tx.history.add(
        factory_id=info.factory_id, customer_id=info.customer_id, trigger=trigger, outcome=outcome,
        event_id=(event or {}).get("event_id"), customer_version=info.version if event is None
        else int(event["aggregate_version"]), event_occurred_at=_occurred_at(event),
        trace_id=trace_id, operator_id=operator[0], operator_name=operator[1], synced_at=now or utcnow(),
        changed_fields=list(changed_fields),
        project_fields=result.project_fields if result else [],
        contract_fields=result.contract_fields if result else [],
        project_ids=result.updated_projects if result else [],
        contract_ids=result.updated_contracts if result else [],
        project_count=len(result.updated_projects) if result else 0,
        contract_count=len(result.updated_contracts) if result else 0, error=error)


def _occurred_at(event: dict | None) -> dt.datetime | None:
    if not event or not event.get("occurred_at"):
        return None
    try:
        return dt.datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
    except ValueError:
        return None


def _log_result(result: SyncResult, line) -> None:
    if result.updated_projects:
        log.info(line(result.customer_id, len(result.updated_projects), "项目", result.project_fields),
                 customer_id=result.customer_id, project_ids=result.updated_projects)
    if result.updated_contracts:
        log.info(line(result.customer_id, len(result.updated_contracts), "合同", result.contract_fields),
                 customer_id=result.customer_id, contract_ids=result.updated_contracts)
    if not result.updated_projects and not result.updated_contracts:
        log.info(f"客户 {result.customer_id} 的项目和合同已是最新，无需同步", customer_id=result.customer_id)


# --- events ----------------------------------------------------------------------------------

def handle_customer_event(tx: EventTransaction, event: dict) -> SyncResult | None:
    """The consumer's handler (inside its transaction; it commits and acks).

    Every customer event refreshes the snapshot. A ``customer.updated`` that changed name,
    contact or phone, with ``auto_sync`` not false, copies the customer's newest known
    state into its projects and contracts and is recorded in the history once."""
    info = CustomerInfo.from_customer_data(event["data"], event.get("factory_id"))
    newest_known = tx.snapshots.remember(info, source=SOURCE_EVENT, event_id=str(event["event_id"]))
    decision = rules.sync_decision(event["event_type"], event.get("changed_fields"), event.get("options"))
    if decision == rules.IGNORE:
        return None
    changed = rules.synced_fields_changed(event.get("changed_fields"))
    actor = event.get("actor") or {}
    common = dict(trigger=rules.TRIGGER_EVENT, changed_fields=changed, trace_id=event.get("trace_id"),
                  operator=(actor.get("sub"), actor.get("name")), event=event)
    if decision == rules.SKIP_AUTO_SYNC_OFF:
        _record(tx, info, None, outcome=rules.OUTCOME_SKIPPED, **common)
        log.info(f"客户 {info.customer_id} 信息已变更，auto_sync=false，未同步项目和合同",
                 customer_id=info.customer_id, changed_fields=changed)
        return None
    # Never copy an older state than one already known (a manual sync may have seen newer).
    newest = info if newest_known else (tx.snapshots.get(info.factory_id, info.customer_id) or info)
    now = utcnow()
    result = sync_customer(tx, newest, operator=SYNC_OPERATOR, now=now)
    _record(tx, newest, result, outcome=rules.OUTCOME_SUCCESS, now=now, **common)
    _log_result(result, rules.auto_sync_log_line)
    return result


def record_failed_event(uow: SyncUnitOfWork, event: dict, error: BaseException) -> None:
    """Log the seed's error line and keep a ``failed`` history row (own transaction, best
    effort: the database may be what failed). The event itself is retried by the consumer."""
    log.error(rules.sync_failed_log_line(error), error_type=type(error).__name__)
    try:
        data = event.get("data") or {}
        info = CustomerInfo.from_customer_data(data, event.get("factory_id"))
        if rules.sync_decision(event.get("event_type", ""), event.get("changed_fields"),
                               event.get("options")) != rules.SYNC:
            return
        actor = event.get("actor") or {}
        with uow:
            _record(uow, info, None, trigger=rules.TRIGGER_EVENT, outcome=rules.OUTCOME_FAILED,
                    changed_fields=rules.synced_fields_changed(event.get("changed_fields")),
                    trace_id=event.get("trace_id"), operator=(actor.get("sub"), actor.get("name")),
                    event=event, error=f"{type(error).__name__}: {error}"[:2000])
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - never mask the original failure
        log.warning("sync_failure_not_recorded", error=type(exc).__name__)


# --- manual sync (seed 004 §3.2, §7.3) ----------------------------------------------------------

def _sync_now(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int,
              fetch: FetchCustomer | None) -> dict:
    info, source = current_customer(uow, ctx, customer_id, fetch)
    operator = (ctx.operator_id, ctx.operator_name)
    with uow:
        if source == SOURCE_CUSTOMER_SERVICE:
            uow.snapshots.remember(info, source=source)
        newest = uow.snapshots.get(ctx.factory_id, customer_id) or info
        now = utcnow()
        result = sync_customer(uow, newest, operator=operator, now=now)
        _record(uow, newest, result, trigger=rules.TRIGGER_MANUAL, outcome=rules.OUTCOME_SUCCESS,
                changed_fields=[], trace_id=ctx.trace_id, operator=operator, now=now)
        uow.commit()
    _log_result(result, rules.manual_sync_log_line)
    return {**result.as_dict(), "source": source, "customer_version": newest.version}


def sync_customer_now(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int,
                      fetch: FetchCustomer) -> dict:
    """Apply the customer's current state to its projects and contracts now."""
    return _sync_now(uow, ctx, customer_id, fetch)


def sync_customers_now(uow: SyncUnitOfWork, ctx: RequestContext, customer_ids: list[int],
                       fetch: FetchCustomer) -> dict:
    """Manual sync of many customers (≤ 100), each in its own transaction: one failing
    customer does not stop the others. When customer-service stops answering, the rest
    use their snapshots instead of waiting for it again."""
    state = {"fetch": fetch}

    def guarded(customer_id: int):
        if state["fetch"] is None:
            return None
        try:
            return fetch(customer_id)
        except CustomerServiceUnavailable:
            state["fetch"] = None
            raise

    results, projects, contracts = [], 0, 0
    for customer_id in dict.fromkeys(customer_ids):  # each once, in the order given
        try:
            item = _sync_now(uow, ctx, customer_id, guarded if state["fetch"] is not None else None)
        except AppError as exc:
            results.append({"customer_id": customer_id, "success": False, "message": exc.message,
                            "code": exc.status * 10})
            continue
        projects += item["updated_count"]
        contracts += len(item["updated_contracts"])
        results.append(item)
    succeeded = sum(1 for r in results if r["success"])
    return {"success": succeeded == len(results), "message": rules.projects_synced_message(projects),
            "total": len(results), "succeeded": succeeded, "failed": len(results) - succeeded,
            "updated_count": projects, "updated_contract_count": contracts, "results": results}


# --- sync-from-contract (seed 004 §3.2) ----------------------------------------------------------

def sync_project_from_contract(uow: SyncUnitOfWork, ctx: RequestContext, project_id: int,
                               contract_id: int | None = None) -> dict:
    """Copy the customer fields of the project's contract (the given one, else its most
    recently changed one) into the project."""
    operator = (ctx.operator_id, ctx.operator_name)
    with uow:
        project = uow.projects.get(ctx.factory_id, project_id, for_update=True)
        if project is None:
            raise NotFound("项目不存在", error_code="PROJECT_NOT_FOUND")
        if contract_id is not None:
            contract = uow.contracts.get(ctx.factory_id, contract_id)
            if contract is None or contract.project_id != project.id:
                raise NotFound("该项目没有这个合同", error_code="CONTRACT_NOT_FOUND",
                               errors={"contract_id": ["合同不存在或不属于该项目"]})
        else:
            contract = uow.contracts.latest_of_project(ctx.factory_id, project.id)
            if contract is None:
                raise NotFound("该项目还没有关联的合同", error_code="CONTRACT_NOT_FOUND",
                               errors={"contract_id": ["该项目还没有关联的合同"]})
        now = utcnow()
        written = project.copy_customer_from_contract(contract, operator_id=operator[0],
                                                      operator_name=operator[1], now=now)
        uow.flush()
        result = SyncResult(int(contract.customer_id), [project.id] if written else [], [],
                            rules.ordered_fields(written), [])
        info = CustomerInfo(customer_id=int(contract.customer_id), factory_id=ctx.factory_id,
                            name=contract.customer_name, contact=contract.contact_person,
                            phone=contract.contact_phone, version=0)
        uow.history.add(
            factory_id=ctx.factory_id, customer_id=info.customer_id, trigger=rules.TRIGGER_CONTRACT,
            outcome=rules.OUTCOME_SUCCESS, event_id=None, customer_version=None, trace_id=ctx.trace_id,
            operator_id=operator[0], operator_name=operator[1], synced_at=now, changed_fields=[],
            project_fields=result.project_fields, contract_fields=[], project_ids=result.updated_projects,
            contract_ids=[], project_count=result.updated_count, contract_count=0)
        uow.commit()
    return {**result.as_dict(), "contract_id": contract.id, "project": project}


# --- history (seed 004 §7.2) ---------------------------------------------------------------------

def list_history(uow: SyncUnitOfWork, ctx: RequestContext, *, customer_id: int | None = None,
                 trigger: str | None = None, outcome: str | None = None, page: int = 1,
                 page_size: int = 20) -> dict:
    """Newest first, of the caller's tenant."""
    with uow:
        stmt = uow.history.filtered(ctx.factory_id, customer_id=customer_id, trigger=trigger, outcome=outcome)
        result = paginate(uow.session, stmt, page=page, page_size=page_size, scalars=False)
    for item in result["items"]:
        item["updated_fields"] = rules.ordered_fields(set(item["project_fields"]) | set(item["contract_fields"]))
    return result
