"""/api/v1/projects: projects and the customer fields they copy (seed 004).

Views validate, call the service layer, and reply."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, etag_for, if_match_version, reply, request_context

from ..domain import commands as cmd
from ..service_layer import projects as svc
from ..service_layer import sync
from .deps import core, customers_for
from .schemas import (
    PROJECT_CREATE_EXAMPLE,
    PROJECT_UPDATE_EXAMPLE,
    SYNC_FROM_CONTRACT_EXAMPLE,
    ProjectCreateSchema,
    ProjectListQuerySchema,
    ProjectPageSchema,
    ProjectSchema,
    ProjectUpdateSchema,
    SyncFromContractResultSchema,
    SyncFromContractSchema,
    paging_of,
)

blp = Blueprint("projects_v1", __name__, url_prefix="/api/v1/projects",
                description="Projects (seed 004). Their customer_name, customer_contact and customer_phone "
                            "follow the customer. Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Projects(MethodView):
    @blp.doc(operationId="listProjects")
    @blp.arguments(ProjectListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, ProjectPageSchema))
    @errors(400, 401, 403, 404, 503)
    @authorize("project.read")
    def get(self, query):
        """List the tenant's projects in the caller's business domains, newest first.

        Filters: `customer_id` (404 when that customer is outside the caller's domains),
        `keyword` (project or customer name); `page`, `page_size` (≤ 100).

        Incremental sync (CONTRACT §4): with `updated_since` (ISO 8601, inclusive) and/or
        `cursor`, pages hold every change in (`updated_at`, `id`) order, oldest first, as
        `{items, page_size, next_cursor}`: pass `next_cursor` as `cursor` until it is null,
        then come back later with `updated_since` = the last item's `updated_at`. Exact while others
        write. Projects are never deleted (no tombstones)."""
        return reply(svc.list_projects(cmd.ListProjects(request_context(), paging_of(query),
                                                        customer_id=query.get("customer_id"),
                                                        keyword=query.get("keyword")), core().uow()))

    @blp.doc(operationId="createProject")
    @blp.arguments(ProjectCreateSchema, example=PROJECT_CREATE_EXAMPLE)
    @blp.response(201, envelope_schema(Surface.V1, ProjectSchema))
    @errors(400, 401, 403, 404, 413, 503)
    @authorize("project.write")
    def post(self, body):
        """Create a project from `name` and `customer_id`.

        The customer fields are filled from the customer's latest known state (from its
        events; asked from customer-service when none has arrived yet). 404 names
        `customer_id` when the customer does not exist in this tenant."""
        ctx = request_context()
        project = svc.create_project(cmd.CreateProject(ctx, body["name"], body["customer_id"]), core().uow(),
                                     customers_for(ctx))
        return reply(project, status=201, headers={"ETag": etag_for(project.version),
                                                   "Location": f"/api/v1/projects/{project.id}"})


@blp.route("/<int:project_id>")
class ProjectById(MethodView):
    @blp.doc(operationId="getProject")
    @blp.response(200, envelope_schema(Surface.V1, ProjectSchema))
    @errors(400, 401, 403, 404, 503)
    @authorize("project.read")
    def get(self, project_id):
        """One project. Sends `ETag` (its version)."""
        project = svc.get_project(cmd.GetProject(request_context(), project_id), core().uow())
        return reply(project, headers={"ETag": etag_for(project.version)})

    @blp.doc(operationId="updateProject")
    @blp.arguments(ProjectUpdateSchema, example=PROJECT_UPDATE_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.V1, ProjectSchema))
    @errors(400, 401, 403, 404, 412, 413, 503)
    @authorize("project.write")
    def put(self, changes, project_id):
        """Rename a project or move it to another customer (whose fields are copied in).
        `If-Match: "<version>"` makes it conditional (412 when stale)."""
        ctx = request_context()
        command = cmd.UpdateProject(ctx, project_id, name=changes.get("name"), customer_id=changes.get("customer_id"),
                                    expected_version=if_match_version())
        project = svc.update_project(command, core().uow(), customers_for(ctx))
        return reply(project, headers={"ETag": etag_for(project.version)})


@blp.route("/<int:project_id>/sync-from-contract")
class ProjectSyncFromContract(MethodView):
    @blp.doc(operationId="syncProjectFromContract")
    @blp.arguments(SyncFromContractSchema, required=False, example=SYNC_FROM_CONTRACT_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.V1, SyncFromContractResultSchema))
    @errors(400, 401, 403, 404, 413, 503)
    @authorize("project.write")
    def post(self, body, project_id):
        """Copy the customer and its name, contact and phone from the project's contract
        (`contract_id`, else its most recently changed contract) into the project (seed 004 §3.2).
        Recorded in the sync history with trigger `contract`."""
        command = cmd.SyncProjectFromContract(request_context(), project_id, (body or {}).get("contract_id"))
        result = sync.sync_project_from_contract(command, core().uow())
        return reply(result, message=result["message"])
