"""/api/external/viewing-records: the integrator's viewing records (seed 002 带看记录录入 /
用户带看记录查询). Views validate, call the service layer, and reply in the external
envelope ``{"success", "data", "message"}``."""
from __future__ import annotations

from flask.views import MethodView
from werkzeug.routing import BaseConverter

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..domain import commands as cmd
from ..service_layer import viewing_records as svc
from .deps import core, customers_for
from .schemas import (
    CHANGED_RECORDS_EXAMPLE,
    RECORD_REQUEST_EXAMPLE,
    RECORD_RESULT_EXAMPLE,
    USER_RECORDS_EXAMPLE,
    ChangedRecordsPageSchema,
    ChangedRecordsQuerySchema,
    ViewingRecordPageSchema,
    ViewingRecordQuerySchema,
    ViewingRecordRequestSchema,
    ViewingRecordResultSchema,
)

blp = Blueprint("external_viewing_records", __name__, url_prefix="/api/external/viewing-records",
                description="External integrator API (seed 002): viewing records, keyed by `userId` + "
                            "`property_address`. Role `integrator` (or `admin`).")

errors = lambda *codes: document_errors(blp, Surface.EXTERNAL, *codes)  # noqa: E731


class AnyText(BaseConverter):
    """A ``userId`` is the integrator's own: any text, ``/`` included (sent percent-encoded),
    also leading, trailing or doubled. Registered as ``anytext`` by the app factory."""
    regex = ".+"
    part_isolating = False  # may span what look like path segments
    weight = 200


def register_converters(app, api) -> None:
    app.url_map.converters["anytext"] = AnyText
    api.register_converter(AnyText, lambda _converter: {"type": "string"})


@blp.route("")
class ViewingRecords(MethodView):
    @blp.doc(operationId="listChangedViewingRecords")
    @blp.arguments(ChangedRecordsQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.EXTERNAL, ChangedRecordsPageSchema), example=CHANGED_RECORDS_EXAMPLE)
    @errors(400, 401, 403, 429, 503)
    @authorize("external.viewing.read")
    def get(self, query):
        """带看记录增量同步 — every record of the tenant changed since `updated_since`, for
        outside systems that keep a copy instead of polling each `userId`.

        Keyset pages in (`updated_at`, `id`) order, oldest change first, each record in the
        shape of the user query: pass `data.next_cursor` as `cursor` until it is null, then
        come back later with `updated_since` = the last record's `updated_at` (inclusive).
        Exact while others write (CONTRACT §4). Records are never deleted (no tombstones).
        Only customers in the caller's business domains; `pageSize` above 100 is served as 100."""
        service = core()
        command = cmd.ListChangedRecords(request_context(), page_size=query["pageSize"],
                                         updated_since=query.get("updated_since"), cursor=query.get("cursor"))
        return reply(svc.list_changed_records(command, service.uow()), message="查询成功")

    @blp.doc(operationId="recordViewing")
    @blp.arguments(ViewingRecordRequestSchema, example=RECORD_REQUEST_EXAMPLE)
    @blp.response(200, envelope_schema(Surface.EXTERNAL, ViewingRecordResultSchema), example=RECORD_RESULT_EXAMPLE)
    @errors(400, 401, 403, 404, 413, 429, 503)
    @authorize("external.viewing.write")
    def post(self, body):
        """带看记录录入 — record a viewing, creating or updating its customer.

        The customer of `userId` is created or updated through customer-service (its name and
        phone from `customer_name` / `customer_phone`); a repeat of `userId` + `property_address`
        (or, without an address, `userId` + `property_name`) updates that record. Defaults on
        create: `viewing_time` now, `room_type` one_bedroom, `viewer_name` external,
        `viewing_status` 1, `commission` 0, `business_type` whole_rent; on update only the
        non-empty values given overwrite. With `PROPERTY_LOOKUP_URL` set, property fields not
        given are filled from the property service (`external_property_enriched`); its failure
        never stops the record. 503 when customer-service cannot be reached: nothing is written,
        retrying is safe; 404 when the `userId`'s customer is outside the caller's business
        domains (customer-service's answer). Emits `viewing.recorded` / `viewing.updated`."""
        ctx, service = request_context(), core()
        user_id = body.pop("user_id")
        outcome = svc.record_viewing(cmd.RecordViewing(ctx, user_id, body), service.uow(),
                                     customers=customers_for(ctx), properties=service.property_lookup,
                                     timezone=service.timezone)
        data = {
            "viewing_record_id": outcome.record.id,
            "customer_id": outcome.customer_id,
            "customer_action": outcome.customer_action,
            "viewing_record_action": outcome.record_action,
            "userId": user_id,
            "external_property_enriched": outcome.enriched,
        }
        if outcome.enriched:
            data["external_property_data"] = outcome.property_data
        return reply(data, message=outcome.message)


@blp.route("/<anytext:user_id>", merge_slashes=False)
class UserViewingRecords(MethodView):
    @blp.doc(operationId="listUserViewingRecords")
    @blp.arguments(ViewingRecordQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.EXTERNAL, ViewingRecordPageSchema), example=USER_RECORDS_EXAMPLE)
    @errors(400, 401, 403, 404, 429, 503)
    @authorize("external.viewing.read")
    def get(self, query, user_id):
        """用户带看记录查询 — one user's viewing records in the tenant, newest first.

        Filters: `property_name` (fuzzy), `viewing_status`, `business_type`, `viewer_name`,
        `date_from` / `date_to` (inclusive calendar dates of `viewing_time` in APP_TIMEZONE).
        Pages: `page` from 1, `pageSize` default 20 (above 100 served as 100). `userId` may hold
        any character, `/` included, sent percent-encoded. 404 when the `userId`'s customer is
        outside the caller's business domains; a `userId` with no records is an empty page."""
        service = core()
        command = cmd.ListUserRecords(request_context(), user_id, page=query.pop("page"),
                                      page_size=query.pop("pageSize"), **query)
        result = svc.list_user_records(command, service.uow(), timezone=service.timezone)
        return reply(result, message="查询成功")
