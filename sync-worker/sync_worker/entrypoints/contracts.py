"""/api/v1/contracts: contracts and the customer fields they copy (seed 004).

Views validate, call the service layer, and reply."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, etag_for, if_match_version, reply, request_context

from ..domain import commands as cmd
from ..service_layer import contracts as svc
from .deps import core, customers_for
from .schemas import (
    CONTRACT_CREATE_EXAMPLE,
    CONTRACT_UPDATE_EXAMPLE,
    ContractCreateSchema,
    ContractListQuerySchema,
    ContractPageSchema,
    ContractSchema,
    ContractUpdateSchema,
    paging_of,
)

blp = Blueprint("contracts_v1", __name__, url_prefix="/api/v1/contracts",
                description="Contracts (seed 004). Their customer_name, contact_person and contact_phone "
                            "follow the customer. Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Contracts(MethodView):
    @blp.doc(operationId="listContracts")
    @blp.arguments(ContractListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, ContractPageSchema))
    @errors(400, 401, 403, 404, 503)
    @authorize("contract.read")
    def get(self, query):
        """List the tenant's contracts in the caller's business domains, newest first.

        Filters: `customer_id` (404 when that customer is outside the caller's domains),
        `project_id`, `keyword` (number or customer name); `page`, `page_size` (≤ 100).

        Incremental sync (CONTRACT §4): with `updated_since` (ISO 8601, inclusive) and/or
        `cursor`, pages hold every change in (`updated_at`, `id`) order, oldest first, as
        `{items, page_size, next_cursor}`: pass `next_cursor` as `cursor` until it is null,
        then come back later with `updated_since` = the last item's `updated_at`. Exact while others
        write. Contracts are never deleted (no tombstones)."""
        return reply(svc.list_contracts(cmd.ListContracts(request_context(), paging_of(query),
                                                          customer_id=query.get("customer_id"),
                                                          project_id=query.get("project_id"),
                                                          keyword=query.get("keyword")), core().uow()))

    @blp.doc(operationId="createContract")
    @blp.arguments(ContractCreateSchema, example=CONTRACT_CREATE_EXAMPLE)
    @blp.response(201, envelope_schema(Surface.V1, ContractSchema))
    @errors(400, 401, 403, 404, 409, 413, 503)
    @authorize("contract.write")
    def post(self, body):
        """Create a contract from `contract_no` (unique in the tenant) and `customer_id`,
        optionally for a `project_id` of the same customer.

        The customer fields are filled from the customer's latest known state; 404 names
        `customer_id` (or `project_id`) when it does not exist in this tenant."""
        ctx = request_context()
        command = cmd.CreateContract(ctx, body["contract_no"], body["customer_id"], body.get("project_id"))
        contract = svc.create_contract(command, core().uow(), customers_for(ctx))
        return reply(contract, status=201, headers={"ETag": etag_for(contract.version),
                                                    "Location": f"/api/v1/contracts/{contract.id}"})


@blp.route("/<int:contract_id>")
class ContractById(MethodView):
    @blp.doc(operationId="getContract")
    @blp.response(200, envelope_schema(Surface.V1, ContractSchema))
    @errors(400, 401, 403, 404, 503)
    @authorize("contract.read")
    def get(self, contract_id):
        """One contract. Sends `ETag` (its version)."""
        contract = svc.get_contract(cmd.GetContract(request_context(), contract_id), core().uow())
        return reply(contract, headers={"ETag": etag_for(contract.version)})

    @blp.doc(operationId="updateContract")
    @blp.arguments(ContractUpdateSchema, example=CONTRACT_UPDATE_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.V1, ContractSchema))
    @errors(400, 401, 403, 404, 409, 412, 413, 503)
    @authorize("contract.write")
    def put(self, changes, contract_id):
        """Change the number, the project or the customer (whose fields are copied in).
        `If-Match: "<version>"` makes it conditional (412 when stale)."""
        ctx = request_context()
        command = cmd.UpdateContract(ctx, contract_id, contract_no=changes.get("contract_no"),
                                     customer_id=changes.get("customer_id"),
                                     project_id=changes.get("project_id", cmd.KEEP),
                                     expected_version=if_match_version())
        contract = svc.update_contract(command, core().uow(), customers_for(ctx))
        return reply(contract, headers={"ETag": etag_for(contract.version)})
