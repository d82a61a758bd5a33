"""/api/v1/customer-groups (seed 003): groups of customers within one business domain."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.paging import keyset_body, page_body
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...bootstrap import customer_service
from ...domain import commands
from ...service_layer import groups as handlers
from ...service_layer import queries
from .group_schemas import (
    GroupCreateSchema,
    GroupDetailSchema,
    GroupListQuerySchema,
    GroupMembersSchema,
    GroupPageSchema,
    GroupSchema,
)
from .wording import V1

blp = Blueprint("customer_groups_v1", __name__, url_prefix="/api/v1/customer-groups",
                description="Customer groups (seed 003). Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")
V1.install(blp)

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Groups(MethodView):
    @blp.doc(operationId="listCustomerGroups")
    @blp.arguments(GroupListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, GroupPageSchema))
    @errors(400, 401, 403)
    @authorize("group.read")
    def get(self, query):
        """List groups in the caller's business domains (`businessDomain` narrows further,
        `keyword` matches part of the name in any case), with their member counts; pages with
        `page` and `page_size` (≤ 100), newest first. Incremental sync: `updated_since` and/or
        `cursor` answer the groups changed since (deleted ones with `deleted: true`), oldest
        change first, with `next_cursor` (null on the last page)."""
        changes = queries.Changes(query["page_size"], query["updated_since"], query["cursor"]) \
            if query["incremental"] else None
        items, more = queries.group_page(
            customer_service().uow(), request_context(), keyword=query.get("keyword"),
            business_domain=query.get("businessDomain") or query.get("business_domain"),
            page=query["page"], page_size=query["page_size"], changes=changes)
        if changes is not None:
            return reply(keyset_body(items, query["page_size"], more))
        return reply(page_body(items, more, query["page"], query["page_size"]))

    @blp.doc(operationId="createCustomerGroup")
    @blp.arguments(GroupCreateSchema, example={"name": "华东重点客户", "business_domain": "GENERAL_WAREHOUSING",
                                               "max_member": 200, "description": "华东区仓储重点客户"})
    @blp.response(201, envelope_schema(Surface.V1, GroupSchema))
    @errors(400, 401, 403, 409)
    @authorize("group.write")
    def post(self, body):
        """Create a group in a business domain the caller may see (else 403 `FORBIDDEN`);
        answers the group with its `id`. Names are unique per tenant (409 `GROUP_DUPLICATED`)."""
        group = handlers.create_group(commands.CreateGroup(request_context(), body["name"], body.get("business_domain"),
                                                           body.get("description"), body.get("max_member")),
                                      customer_service().uow())
        return reply(group, status=201)


@blp.route("/<int:group_id>")
class GroupById(MethodView):
    @blp.doc(operationId="getCustomerGroup")
    @blp.response(200, envelope_schema(Surface.V1, GroupDetailSchema))
    @errors(400, 401, 403, 404)
    @authorize("group.read")
    def get(self, group_id):
        """Group detail with its members."""
        return reply(queries.group_detail(customer_service().uow(), request_context(), group_id))


@blp.route("/<int:group_id>/members")
class GroupMembers(MethodView):
    @blp.doc(operationId="replaceCustomerGroupMembers")
    @blp.arguments(GroupMembersSchema, example={"customer_ids": [9, 10]})
    @blp.response(200, envelope_schema(Surface.V1, GroupDetailSchema))
    @errors(400, 401, 403, 404, 409)
    @authorize("group.write")
    def put(self, body, group_id):
        """Replace the whole member set with `customer_ids` (DELETE + INSERT, one transaction).

        Refused, changing nothing: unknown customers (400 `CUSTOMER_NOT_FOUND`), customers of
        another business domain (409 `CUSTOMER_DOMAIN_MISMATCH`), more than `max_member`
        (409 `GROUP_MEMBER_LIMIT_EXCEEDED`); the message names the ids."""
        group = handlers.replace_members(commands.ReplaceGroupMembers(
            request_context(), group_id, tuple(body["customer_ids"])), customer_service().uow())
        return reply(group)
