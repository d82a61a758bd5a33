"""Contracts: create, read, list, update. ``contract_no`` is unique per factory; the
customer fields are copied from the customer's latest known state."""
from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from crm_common.context import RequestContext
from crm_common.errors import Conflict, NotFound, ValidationError

from ..domain import rules
from ..domain.commands import KEEP, CreateContract, GetContract, ListContracts, UpdateContract
from ..domain.model import Contract
from .customers import FetchCustomer, known_customer, latest_for_copy, require_visible_filter
from .projects import stale
from .unit_of_work import SyncUnitOfWork

CONTRACT_NOT_FOUND = "合同不存在"
DUPLICATE_NUMBER = "合同编号已存在"


def _duplicate_number() -> Conflict:
    return Conflict(DUPLICATE_NUMBER, error_code="CONTRACT_DUPLICATED", errors={"contract_no": [DUPLICATE_NUMBER]})


def load_contract(uow: SyncUnitOfWork, ctx: RequestContext, contract_id: int, *, for_update: bool = False,
                  expected_version: int | None = None) -> Contract:
    contract = uow.contracts.get(ctx.factory_id, ctx.scope, contract_id, for_update=for_update)
    if contract is None:
        raise NotFound(CONTRACT_NOT_FOUND, error_code="CONTRACT_NOT_FOUND")
    if expected_version is not None and contract.version != expected_version:
        raise stale("合同", contract.version)
    return contract


def _check_project(uow: SyncUnitOfWork, ctx: RequestContext, project_id: int | None, customer_id: int) -> None:
    if project_id is None:
        return
    project = uow.projects.get(ctx.factory_id, ctx.scope, project_id)
    if project is None:
        raise NotFound("项目不存在", error_code="PROJECT_NOT_FOUND", errors={"project_id": ["项目不存在"]})
    if not rules.contract_matches_project(customer_id, project.customer_id):
        raise ValidationError("合同的客户与项目的客户不一致",
                              errors={"project_id": [f"项目属于客户 {project.customer_id}，与合同客户 {customer_id} 不一致"]})


def _flush(uow: SyncUnitOfWork) -> None:
    try:
        uow.flush()
    except IntegrityError as exc:  # the unique index is the real guarantee
        raise _duplicate_number() from exc


def create_contract(cmd: CreateContract, uow: SyncUnitOfWork, customers: FetchCustomer) -> Contract:
    ctx = cmd.ctx
    info = known_customer(uow, ctx, cmd.customer_id, customers)
    with uow:
        info = latest_for_copy(uow, ctx, info)
        _check_project(uow, ctx, cmd.project_id, info.customer_id)
        if uow.contracts.number_taken(ctx.factory_id, cmd.contract_no):
            raise _duplicate_number()
        now = uow.now()
        contract = Contract(factory_id=ctx.factory_id, contract_no=cmd.contract_no,
                            customer_id=info.customer_id, project_id=cmd.project_id,
                            business_domain=info.business_domain, created_at=now, created_by=ctx.operator_id, created_by_name=ctx.operator_name,
                            updated_at=now, updated_by=ctx.operator_id, updated_by_name=ctx.operator_name)
        contract.copy_customer(info, operator_id=ctx.operator_id, operator_name=ctx.operator_name, now=now)
        uow.contracts.add(contract)
        _flush(uow)
        uow.commit()
    return contract


def update_contract(cmd: UpdateContract, uow: SyncUnitOfWork, customers: FetchCustomer) -> Contract:
    """Change the number, the project, or the customer (whose fields are then copied in)."""
    ctx = cmd.ctx
    info = known_customer(uow, ctx, cmd.customer_id, customers) if cmd.customer_id is not None else None
    with uow:
        info = latest_for_copy(uow, ctx, info) if info is not None else None
        contract = load_contract(uow, ctx, cmd.contract_id, for_update=True, expected_version=cmd.expected_version)
        now = uow.now()
        values = {}
        if cmd.contract_no is not None:
            values["contract_no"] = cmd.contract_no
        if cmd.project_id is not KEEP:
            values["project_id"] = cmd.project_id
        if values.get("contract_no") not in (None, contract.contract_no) and \
                uow.contracts.number_taken(ctx.factory_id, values["contract_no"], exclude_id=contract.id):
            raise _duplicate_number()
        _check_project(uow, ctx, values.get("project_id", contract.project_id),
                       info.customer_id if info is not None else contract.customer_id)
        changed = contract.change(values)
        if info is not None:
            changed += contract.belong_to(info)
            changed += contract.copy_customer(info, operator_id=ctx.operator_id,
                                              operator_name=ctx.operator_name, now=now)
        if changed:
            contract.touch(ctx.operator_id, ctx.operator_name, now)
        _flush(uow)
        uow.commit()
    return contract


def get_contract(cmd: GetContract, uow: SyncUnitOfWork) -> Contract:
    with uow:
        return load_contract(uow, cmd.ctx, cmd.contract_id)


def list_contracts(cmd: ListContracts, uow: SyncUnitOfWork) -> dict:
    with uow:
        require_visible_filter(uow, cmd.ctx, cmd.customer_id)
        return uow.contracts.page(cmd.ctx.factory_id, cmd.ctx.scope, cmd.paging, customer_id=cmd.customer_id,
                                  project_id=cmd.project_id, keyword=cmd.keyword)
