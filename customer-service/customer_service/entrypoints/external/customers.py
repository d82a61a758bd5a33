"""/api/external/customers: the integrator's customer upsert (seed 002 客户数据录入).

Views validate, build the command, call its handler, and reply in the external envelope
``{"success", "data", "message"}``; refusals are worded by ``wording.EXTERNAL``."""
from __future__ import annotations

from flask import request
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ...bootstrap import customer_service
from ...domain import commands
from ...service_layer import customers as handlers
from .schemas import SEED_EXAMPLE, ExternalCustomerResultSchema, ExternalCustomerSchema
from .wording import EXTERNAL

blp = Blueprint("external_customers", __name__, url_prefix="/api/external/customers",
                description="External integrator API (seed 002): customers keyed by the integrator's "
                            "`userId`. Role `integrator` (or `admin`).")
EXTERNAL.install(blp)

errors = lambda *codes: document_errors(blp, Surface.EXTERNAL, *codes)  # noqa: E731
CREATED_MESSAGE = "新客户创建成功"
UPDATED_MESSAGE = "客户信息已更新"


@blp.route("")
class ExternalCustomers(MethodView):
    @blp.doc(operationId="upsertExternalCustomer")
    @blp.arguments(ExternalCustomerSchema, example=SEED_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.EXTERNAL, ExternalCustomerResultSchema))
    @errors(400, 401, 403, 404, 409, 429)
    @authorize("external.customer.write")
    def post(self, body):
        """录入或更新客户信息 — create or update the tenant's customer of `userId` (idempotent).

        A new customer gets the seed's defaults (`status` 1, `business_type` whole_rent,
        `room_type` one_bedroom, `source_channel` referral, `creator` 外部系统) and a
        `customer_code` with the `EXTERNAL` prefix; answers `{"id", "userId", "action": "created"}`
        with 新客户创建成功. An existing one takes only the non-empty values given (null, ""
        and absent fields never erase anything); answers `{"id", "userId"}` with 客户信息已更新.
        A `userId` of another business domain is 404; one whose customer was deleted is 409.
        With `Prefer: return=representation` (RFC 7240) the answer also carries the customer's
        `name` and `phone` as the call left them.
        Emits `customer.created` / `customer.updated`."""
        user_id = body.pop("external_user_id")
        customer, created = handlers.upsert_external_customer(
            commands.UpsertExternalCustomer(request_context(), user_id, body), customer_service().uow())
        data = {"id": customer.id, "userId": user_id}
        headers = None
        if "return=representation" in request.headers.get("Prefer", ""):  # RFC 7240
            data.update(name=customer.name, phone=customer.primary_contact_phone)
            headers = {"Preference-Applied": "return=representation"}
        if created:
            return reply({**data, "action": "created"}, message=CREATED_MESSAGE, headers=headers)
        return reply(data, message=UPDATED_MESSAGE, headers=headers)
