"""Customer synchronisation (seed 004): copy a customer's name, contact and phone into its
projects and contracts, incrementally, and record each synchronisation in the history.

Three ways in: a ``customer.*`` event (``apply_customer_change``, called by the consumer
with a unit of work joined to its transaction), a manual sync of one or many customers,
and ``sync-from-contract`` for one project. Runs after the customer update has committed
in customer-service, so a failure here can never undo it."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from crm_common import logs
from crm_common.batch import batch_status
from crm_common.context import RequestContext
from crm_common.errors import AppError, NotFound

from ..adapters.customer_client import CustomerServiceUnavailable
from ..domain import rules
from ..domain.commands import ApplyCustomerChange, ListHistory, SyncCustomer, SyncCustomers, SyncProjectFromContract
from ..domain.model import CustomerInfo, SyncResult
from .customers import (
    SOURCE_CUSTOMER_SERVICE,
    SOURCE_EVENT,
    SYNC_OPERATOR,
    FetchCustomer,
    current_customer,
    remember,
    require_visible_filter,
)
from .unit_of_work import SyncUnitOfWork

log = logs.get_logger("sync_worker.sync")



# --- the two seed functions ------------------------------------------------------------------

def sync_customer_to_projects(uow: SyncUnitOfWork, info: CustomerInfo, *, operator: tuple[str | None, str | None],
                              now: dt.datetime) -> tuple[list[int], list[str]]:
    """Seed 004 §2.1 ``sync_customer_to_projects``: every project of the customer gets the
    customer's fields; only differing fields are written. -> (project ids, fields written)."""
    updated, fields = [], set()
    for project in uow.projects.of_customer(info.factory_id, info.customer_id, for_update=True):
        written = project.copy_customer(info, operator_id=operator[0], operator_name=operator[1], now=now)
        if written:
            updated.append(project.id)
            fields.update(written)
    return updated, rules.ordered_fields(fields)


def sync_customer_to_contracts(uow: SyncUnitOfWork, info: CustomerInfo, *, operator: tuple[str | None, str | None],
                               now: dt.datetime) -> tuple[list[int], list[str]]:
    """Seed 004 §2.1 ``sync_customer_to_contracts``: the same for contracts."""
    updated, fields = [], set()
    for contract in uow.contracts.of_customer(info.factory_id, info.customer_id, for_update=True):
        written = contract.copy_customer(info, operator_id=operator[0], operator_name=operator[1], now=now)
        if written:
            updated.append(contract.id)
            fields.update(written)
    return updated, rules.ordered_fields(fields)


def _sync(uow: SyncUnitOfWork, info: CustomerInfo, *, operator, now: dt.datetime) -> SyncResult:
    projects, project_fields = sync_customer_to_projects(uow, info, operator=operator, now=now)
    contracts, contract_fields = sync_customer_to_contracts(uow, info, operator=operator, now=now)
    uow.flush()
    return SyncResult(info.customer_id, projects, contracts, project_fields, contract_fields)


def _record(uow: SyncUnitOfWork, info: CustomerInfo, result: SyncResult | None, *, trigger: str, outcome: str,
            now: dt.datetime, changed_fields=(), trace_id=None, operator=(None, None),
            change: ApplyCustomerChange | None = None, error: str | None = None) -> None:
    uow.history.add(
        factory_id=info.factory_id, customer_id=info.customer_id, business_domain=info.business_domain,
        trigger=trigger, outcome=outcome,
        event_id=change.event_id if change else None,
        customer_version=change.customer_version if change else (info.version or None),
        event_occurred_at=change.occurred_at if change else None,
        trace_id=trace_id, operator_id=operator[0], operator_name=operator[1], synced_at=now,
        changed_fields=list(changed_fields),
        project_fields=result.project_fields if result else [],
        contract_fields=result.contract_fields if result else [],
        project_ids=result.updated_projects if result else [],
        contract_ids=result.updated_contracts if result else [],
        project_count=len(result.updated_projects) if result else 0,
        contract_count=len(result.updated_contracts) if result else 0, error=error)


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

def apply_customer_change(cmd: ApplyCustomerChange, uow: SyncUnitOfWork) -> SyncResult | None:
    """Every customer event refreshes the snapshot. A ``customer.updated`` that changed name,
    contact or phone, with ``auto_sync`` not false, copies the customer's newest known
    state into its projects and contracts and is recorded in the history once."""
    info = cmd.customer
    with uow:
        newest_known = remember(uow, info, source=SOURCE_EVENT, event_id=cmd.event_id)
        decision = rules.sync_decision(cmd.event_type, cmd.changed_fields, cmd.options)
        if decision == rules.IGNORE:
            uow.commit()
            return None
        changed = rules.synced_fields_changed(cmd.changed_fields)
        now = uow.now()
        common = dict(trigger=rules.TRIGGER_EVENT, changed_fields=changed, trace_id=cmd.trace_id,
                      operator=(cmd.actor_id, cmd.actor_name), change=cmd, now=now)
        if decision == rules.SKIP_AUTO_SYNC_OFF:
            _record(uow, info, None, outcome=rules.OUTCOME_SKIPPED, **common)
            uow.commit()
            log.info(f"客户 {info.customer_id} 信息已变更，auto_sync=false，未同步项目和合同",
                     customer_id=info.customer_id, changed_fields=changed)
            return None
        # Never copy an older state than one already known (a manual sync may have seen newer).
        newest = info if newest_known else (uow.snapshots.get(info.factory_id, info.customer_id) or info)
        result = _sync(uow, newest, operator=SYNC_OPERATOR, now=now)
        _record(uow, newest, result, outcome=rules.OUTCOME_SUCCESS, **common)
        uow.commit()
    _log_result(result, rules.auto_sync_log_line)
    return result


def record_failed_change(cmd: ApplyCustomerChange, uow: SyncUnitOfWork, error: BaseException) -> None:
    """Log the seed's error line and keep a ``failed`` history row (``uow``: its own
    transaction, best effort: the database may be what failed). The consumer retries the
    event itself."""
    log.error(rules.sync_failed_log_line(error), error_type=type(error).__name__)
    if rules.sync_decision(cmd.event_type, cmd.changed_fields, cmd.options) != rules.SYNC:
        return
    try:
        with uow:
            _record(uow, cmd.customer, None, trigger=rules.TRIGGER_EVENT, outcome=rules.OUTCOME_FAILED,
                    changed_fields=rules.synced_fields_changed(cmd.changed_fields), trace_id=cmd.trace_id,
                    operator=(cmd.actor_id, cmd.actor_name), change=cmd, now=uow.now(),
                    error=f"{type(error).__name__}: {error}"[:2000])
            uow.commit()
    except Exception as exc:  # noqa: BLE001 - never mask the original failure
        log.warning("sync_failure_not_recorded", error=type(exc).__name__)


# --- manual sync (seed 004 §3.2, §7.3) ----------------------------------------------------------

def _sync_now(uow: SyncUnitOfWork, ctx: RequestContext, customer_id: int, fetch: FetchCustomer | None) -> dict:
    info, source = current_customer(uow, ctx, customer_id, fetch)
    operator = (ctx.operator_id, ctx.operator_name)
    with uow:
        if source == SOURCE_CUSTOMER_SERVICE:
            remember(uow, info, source=source)
        # locked like an event's own write, so an event applied meanwhile is never overwritten
        newest = uow.snapshots.get(ctx.factory_id, customer_id, lock=True) or info
        now = uow.now()
        result = _sync(uow, newest, operator=operator, now=now)
        _record(uow, newest, result, trigger=rules.TRIGGER_MANUAL, outcome=rules.OUTCOME_SUCCESS,
                trace_id=ctx.trace_id, operator=operator, now=now)
        uow.commit()
    _log_result(result, rules.manual_sync_log_line)
    return {**result.as_dict(), "source": source, "customer_version": newest.version}


def sync_customer(cmd: SyncCustomer, uow: SyncUnitOfWork, customers: FetchCustomer) -> dict:
    """Apply the customer's current state to its projects and contracts now."""
    return _sync_now(uow, cmd.ctx, cmd.customer_id, customers)


@dataclass(frozen=True)
class BatchReport:
    status: int   # crm_common.batch.batch_status: 200, 207 (some failed) or 400 (all failed)
    data: dict


def sync_customers(cmd: SyncCustomers, uow: SyncUnitOfWork, customers: FetchCustomer) -> BatchReport:
    """Manual sync of many customers (≤ 100), each in its own transaction: one failing
    customer does not stop the others. When customer-service stops answering, the rest
    use their snapshots instead of waiting for it again."""
    fetch: FetchCustomer | None = customers

    def guarded(customer_id: int):
        nonlocal fetch
        try:
            return customers(customer_id)
        except CustomerServiceUnavailable:
            fetch = None
            raise

    results, projects, contracts = [], 0, 0
    for customer_id in dict.fromkeys(cmd.customer_ids):  # each once, in the order given
        try:
            item = _sync_now(uow, cmd.ctx, customer_id, guarded if fetch is not None else None)
        except AppError as exc:
            results.append({"customer_id": customer_id, "success": False, "message": exc.message,
                            "code": exc.status * 10})
            continue
        projects += item["updated_count"]
        contracts += len(item["updated_contracts"])
        results.append(item)
    succeeded = sum(1 for r in results if r["success"])
    failed = len(results) - succeeded
    return BatchReport(batch_status(succeeded, failed), {
        "success": failed == 0, "message": rules.projects_synced_message(projects),
        "total": len(results), "succeeded": succeeded, "failed": failed,
        "updated_count": projects, "updated_contract_count": contracts, "results": results})


# --- sync-from-contract (seed 004 §3.2) ----------------------------------------------------------

def sync_project_from_contract(cmd: SyncProjectFromContract, uow: SyncUnitOfWork) -> dict:
    """Copy the customer fields of the project's contract (the given one, else its most
    recently changed one) into the project."""
    ctx = cmd.ctx
    operator = (ctx.operator_id, ctx.operator_name)
    with uow:
        project = uow.projects.get(ctx.factory_id, ctx.scope, cmd.project_id, for_update=True)
        if project is None:
            raise NotFound("项目不存在", error_code="PROJECT_NOT_FOUND")
        if cmd.contract_id is not None:
            contract = uow.contracts.get(ctx.factory_id, ctx.scope, cmd.contract_id)
            if contract is None or contract.project_id != project.id:
                raise NotFound("该项目没有这个合同", error_code="CONTRACT_NOT_FOUND",
                               errors={"contract_id": ["合同不存在或不属于该项目"]})
        else:
            contract = uow.contracts.latest_of_project(ctx.factory_id, ctx.scope, project.id)
            if contract is None:
                raise NotFound("该项目还没有关联的合同", error_code="CONTRACT_NOT_FOUND",
                               errors={"contract_id": ["该项目还没有关联的合同"]})
        now = uow.now()
        written = project.copy_customer_from_contract(contract, operator_id=operator[0],
                                                      operator_name=operator[1], now=now)
        uow.flush()
        result = SyncResult(int(contract.customer_id), [project.id] if written else [], [],
                            rules.ordered_fields(written), [])
        info = CustomerInfo(customer_id=int(contract.customer_id), factory_id=ctx.factory_id,
                            name=contract.customer_name, contact=contract.contact_person,
                            phone=contract.contact_phone, version=0, business_domain=contract.business_domain)
        _record(uow, info, result, trigger=rules.TRIGGER_CONTRACT, outcome=rules.OUTCOME_SUCCESS,
                trace_id=ctx.trace_id, operator=operator, now=now)
        uow.commit()
    return {**result.as_dict(), "contract_id": contract.id, "project": project}


# --- history (seed 004 §7.2) ---------------------------------------------------------------------

def list_history(cmd: ListHistory, uow: SyncUnitOfWork) -> dict:
    """Newest first, of the caller's tenant."""
    with uow:
        require_visible_filter(uow, cmd.ctx, cmd.customer_id)
        result = uow.history.page(cmd.ctx.factory_id, cmd.ctx.scope, cmd.paging, customer_id=cmd.customer_id,
                                  trigger=cmd.trigger, outcome=cmd.outcome)
    for item in result["items"]:
        item["updated_fields"] = rules.ordered_fields(set(item["project_fields"]) | set(item["contract_fields"]))
    return result
