"""Projects: create, read, list, update. The customer fields are never typed in: they are
copied from the customer's latest known state."""
from __future__ import annotations

from crm_common.context import RequestContext
from crm_common.errors import NotFound, PreconditionFailed

from ..domain.commands import CreateProject, GetProject, ListProjects, UpdateProject
from ..domain.model import Project
from .customers import FetchCustomer, known_customer, latest_for_copy, require_visible_filter
from .unit_of_work import SyncUnitOfWork

PROJECT_NOT_FOUND = "项目不存在"


def stale(kind: str, version: int) -> PreconditionFailed:
    return PreconditionFailed(f"{kind}已被修改（当前版本 {version}），请刷新后重试", error_code="VERSION_MISMATCH")


def load_project(uow: SyncUnitOfWork, ctx: RequestContext, project_id: int, *, for_update: bool = False,
                 expected_version: int | None = None) -> Project:
    project = uow.projects.get(ctx.factory_id, ctx.scope, project_id, for_update=for_update)
    if project is None:
        raise NotFound(PROJECT_NOT_FOUND, error_code="PROJECT_NOT_FOUND")
    if expected_version is not None and project.version != expected_version:
        raise stale("项目", project.version)
    return project


def create_project(cmd: CreateProject, uow: SyncUnitOfWork, customers: FetchCustomer) -> Project:
    ctx = cmd.ctx
    info = known_customer(uow, ctx, cmd.customer_id, customers)
    with uow:
        info = latest_for_copy(uow, ctx, info)
        now = uow.now()
        project = Project(factory_id=ctx.factory_id, name=cmd.name, customer_id=info.customer_id,
                          business_domain=info.business_domain, created_at=now, created_by=ctx.operator_id, created_by_name=ctx.operator_name,
                          updated_at=now, updated_by=ctx.operator_id, updated_by_name=ctx.operator_name)
        project.copy_customer(info, operator_id=ctx.operator_id, operator_name=ctx.operator_name, now=now)
        uow.projects.add(project)
        uow.flush()
        uow.commit()
    return project


def update_project(cmd: UpdateProject, uow: SyncUnitOfWork, customers: FetchCustomer) -> Project:
    """Rename, or move to another customer (whose fields are then copied in)."""
    ctx = cmd.ctx
    info = known_customer(uow, ctx, cmd.customer_id, customers) if cmd.customer_id is not None else None
    with uow:
        info = latest_for_copy(uow, ctx, info) if info is not None else None
        project = load_project(uow, ctx, cmd.project_id, for_update=True, expected_version=cmd.expected_version)
        now = uow.now()
        changed = project.rename(cmd.name) if cmd.name is not None else []
        if info is not None:
            changed += project.belong_to(info)
            changed += project.copy_customer(info, operator_id=ctx.operator_id,
                                             operator_name=ctx.operator_name, now=now)
        if changed:
            project.touch(ctx.operator_id, ctx.operator_name, now)
        uow.flush()
        uow.commit()
    return project


def get_project(cmd: GetProject, uow: SyncUnitOfWork) -> Project:
    with uow:
        return load_project(uow, cmd.ctx, cmd.project_id)


def list_projects(cmd: ListProjects, uow: SyncUnitOfWork) -> dict:
    with uow:
        require_visible_filter(uow, cmd.ctx, cmd.customer_id)
        return uow.projects.page(cmd.ctx.factory_id, cmd.ctx.scope, cmd.paging, customer_id=cmd.customer_id,
                                 keyword=cmd.keyword)
