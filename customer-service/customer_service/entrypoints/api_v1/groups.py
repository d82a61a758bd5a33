"""/api/v1/customer-groups (seed 003): groups of customers within one business domain."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...service_layer import groups as svc
from ..deps import uow
from .group_schemas import (
    GroupCreateSchema,
    GroupDetailSchema,
    GroupListQuerySchema,
    GroupMembersSchema,
    GroupPageSchema,
    GroupSchema,
)

blp = Blueprint("customer_groups_v1", __name__, url_prefix="/api/v1/customer-groups",
                description="Customer groups (seed 003). Reads: any role of the tenant; writes: admin, "
                            "factory_admin, sales_admin.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Groups(MethodView):
    @blp.arguments(GroupListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, GroupPageSchema))
    @errors(400, 401, 403)
    @authorize("group.read")
    def get(self, query):
        """List groups in the caller's business domains (`businessDomain` narrows further),
        with their member counts; pages with `page` and `page_size` (≤ 100)."""
        ctx = request_context()
        return reply(svc.list_groups(uow(), ctx,
                                     business_domain=query.get("businessDomain") or query.get("business_domain"),
                                     keyword=query.get("keyword"), page=query["page"],
                                     page_size=query["page_size"]))

    @blp.arguments(GroupCreateSchema)
    @blp.response(201, envelope_schema(Surface.V1, GroupSchema))
    @errors(400, 401, 403, 409)
    @authorize("group.write")
    def post(self, body):
        """Create a group in a business domain the caller may see (else 403 `FORBIDDEN`);
        answers the group with its `id`. Names are unique per tenant."""
        ctx = request_context()
        return reply(svc.create_group(uow(), ctx, body), status=201)


@blp.route("/<int:group_id>")
class GroupById(MethodView):
    @blp.response(200, envelope_schema(Surface.V1, GroupDetailSchema))
    @errors(401, 403, 404)
    @authorize("group.read")
    def get(self, group_id):
        """Group detail with its members."""
        ctx = request_context()
        return reply(svc.get_group(uow(), ctx, group_id))


@blp.route("/<int:group_id>/members")
class GroupMembers(MethodView):
    @blp.arguments(GroupMembersSchema)
    @blp.response(200, envelope_schema(Surface.V1, GroupDetailSchema))
    @errors(400, 401, 403, 404, 409)
    @authorize("group.write")
    def put(self, body, group_id):
        """Replace the whole member set with `customer_ids` (DELETE + INSERT, one transaction).

        Refused, changing nothing: unknown customers (400 `CUSTOMER_NOT_FOUND`), customers of
        another business domain (409 `CUSTOMER_DOMAIN_MISMATCH`), more than `max_member`
        (409 `GROUP_MEMBER_LIMIT_EXCEEDED`); the message names the ids."""
        ctx = request_context()
        return reply(svc.replace_members(uow(), ctx, group_id, body["customer_ids"]))
