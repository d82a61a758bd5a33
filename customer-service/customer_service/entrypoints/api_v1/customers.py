"""/api/v1/customers: the internal admin surface's customer resource (seeds 003, 004), its
audit trail and its answer to "may this customer get a new order?" (issue 15).

Views validate, build a command, call its handler and reply; refusals are worded by
``wording.V1``."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.paging import keyset_body, page_body, page_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, etag_for, if_match_version, reply, request_context

from ...adapters.repository import CustomerFilter
from ...bootstrap import customer_service
from ...domain import commands
from ...domain.external_sync import ExternalOrigin
from ...service_layer import customers as handlers
from ...service_layer import queries
from ..common import total_headers
from .schemas import (
    CREATE_EXAMPLE,
    STATUS_EXAMPLE,
    UPDATE_EXAMPLE,
    BalanceChangeSchema,
    CreateCustomerRequestSchema,
    CreditLimitChangeSchema,
    CustomerListQuerySchema,
    CustomerPageSchema,
    CustomerSchema,
    CustomerUpdateSchema,
    EligibilitySchema,
    HistoryQuerySchema,
    RatingChangeSchema,
    StatusChangeEntrySchema,
    StatusChangeSchema,
    UpdateQuerySchema,
)
from .wording import V1

blp = Blueprint("customers_v1", __name__, url_prefix="/api/v1/customers",
                description="Customers (internal admin API, seeds 003/004). Reads: any role of the "
                            "tenant; writes: admin, factory_admin, sales_admin; delete: admin, factory_admin.")
V1.install(blp)

V1Customer = envelope_schema(Surface.V1, CustomerSchema)
errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
# Argument schemas are given as instances, built once: given a class, webargs builds a new
# schema on every request, 10-15 % of a write's CPU (make bench, bench/README.md).


def _customer_reply(customer, status: int = 200, **headers):
    return reply(customer, status=status, headers={"ETag": etag_for(customer.version), **headers})


@blp.route("")
class Customers(MethodView):
    @blp.doc(operationId="listCustomers")
    @blp.arguments(CustomerListQuerySchema(), location="query")
    @blp.response(200, envelope_schema(Surface.V1, CustomerPageSchema))
    @errors(400, 401, 403)
    @authorize("customer.read")
    def get(self, query):
        """List customers of the tenant, filtered to the caller's business domains.

        Filters: `keyword` (part of the name, code or contact, any case), `businessDomain`,
        `status`, `source`. Pages with `page` and `page_size` (≤ 100), newest first.
        `total` is exact up to 10,000 matching customers; beyond that it is PostgreSQL's
        estimate (from the table's statistics: close for a whole tenant or a status, rougher
        for a keyword; never below 10,001), and the reply carries `X-Total-Estimated: true`; `total_pages` follows from
        `total`, and a page past the last one is empty.

        Incremental sync (CONTRACT §4): with `updated_since` (ISO 8601, inclusive) and/or
        `cursor` (the previous page's `data.next_cursor`), customers changed since — deleted
        ones included with `deleted: true` — oldest change first, `page_size` at a time;
        `next_cursor` is null on the last page. A client that keeps the cursor misses no
        change and sees no change twice while others write."""
        ctx = request_context()
        flt = CustomerFilter(keyword=query.get("keyword"), status=query.get("status"), source=query.get("source"),
                             business_domain=query.get("businessDomain") or query.get("business_domain"))
        uow = customer_service().uow()
        if query["incremental"]:
            items, cursor = queries.customer_changes(uow, ctx, flt, queries.Changes(
                query["page_size"], query["updated_since"], query["cursor"]), with_groups=True)
            return reply(keyset_body(items, query["page_size"], cursor))
        items, total = queries.customer_page(uow, ctx, flt, page=query["page"], page_size=query["page_size"],
                                             with_groups=True)
        return reply(page_body(items, total, query["page"], query["page_size"]), headers=total_headers(total))

    @blp.doc(operationId="createCustomer")
    @blp.arguments(CreateCustomerRequestSchema(), example=CREATE_EXAMPLE)
    @blp.response(201, V1Customer)
    @errors(400, 401, 403, 404, 409)
    @authorize("customer.write")
    def post(self, body):
        """Create a customer (seed 003): optional `company` upsert, the customer, its event
        and its audit rows (a credit limit other than 0 is audited) in one transaction; any
        failure rolls all of it back and answers a business `error_code`
        (`COMPANY_NOT_FOUND`, `CUSTOMER_DUPLICATED` for a name or code taken, `FORBIDDEN` for a
        business domain the caller may not use, …).

        `null` for an optional field that cannot be empty (`type`, `status`,
        `business_domain`, `source`, `customer_code`, `credit_limit`, `payment_terms`,
        `rating`) takes its default. Money with more than 2 decimals is 400 naming the field.

        A customer from an outside system (`external_sync: {source, remote_id}`, or a
        `source` other than manual with a `source_ref_id`) is audited in external-sync:
        SUCCESS in the same transaction, FAILED after a rollback. Importing a remote record
        that already created a live customer is 409 `CUSTOMER_DUPLICATED` naming that id."""
        explicit = body.get("external_sync")
        customer = handlers.create_customer(commands.CreateCustomer(
            request_context(), body["customer"], body.get("company"),
            ExternalOrigin(explicit["source"], explicit["remote_id"]) if explicit else None), customer_service().uow())
        return _customer_reply(customer, 201, Location=f"/api/v1/customers/{customer.id}")


@blp.route("/<int:customer_id>")
class CustomerById(MethodView):
    @blp.doc(operationId="getCustomer")
    @blp.response(200, V1Customer)
    @errors(400, 401, 403, 404)
    @authorize("customer.read")
    def get(self, customer_id):
        """Customer detail with its company and groups. Sends `ETag` (the version).
        Served from the Redis read cache when `REDIS_URL` is set (every write invalidates)."""
        service = customer_service()
        return _customer_reply(queries.customer_detail(service.uow(), request_context(), customer_id, service.cache))

    @blp.doc(operationId="updateCustomer")
    @blp.arguments(CustomerUpdateSchema(), example=UPDATE_EXAMPLE)
    @blp.arguments(UpdateQuerySchema(), location="query", as_kwargs=True)
    @blp.response(200, V1Customer)
    @errors(400, 401, 403, 404, 409, 412)
    @authorize("customer.write")
    def put(self, changes, customer_id, auto_sync):
        """Partial update. `If-Match: "<version>"` makes it conditional (412 when stale).
        `auto_sync=false` keeps linked projects and contracts unchanged (seed 004). A name
        taken is 409 `CUSTOMER_DUPLICATED`; `null` for a field that cannot be empty leaves it
        unchanged."""
        customer = handlers.update_customer(commands.UpdateCustomer(
            request_context(), customer_id, changes, if_match_version(), auto_sync), customer_service().uow())
        return _customer_reply(customer)

    @blp.doc(operationId="deleteCustomer")
    @blp.response(200, envelope_schema(Surface.V1))
    @errors(400, 401, 403, 404, 409, 412)
    @authorize("customer.delete")
    def delete(self, customer_id):
        """Soft delete. Refused with 409 while the customer owes money (`CUSTOMER_HAS_DEBT`,
        客户存在欠款 …，不能删除) or has an order not yet completed or cancelled
        (`CUSTOMER_HAS_OPEN_ORDERS`, 客户有未完成订单，无法删除). `If-Match` makes it conditional."""
        handlers.delete_customer(commands.DeleteCustomer(request_context(), customer_id, if_match_version()),
                                 customer_service().uow())
        return reply({"id": customer_id, "deleted": True}, message="删除成功")


@blp.route("/<int:customer_id>/status")
class CustomerStatus(MethodView):
    @blp.doc(operationId="changeCustomerStatus")
    @blp.arguments(StatusChangeSchema(), example=STATUS_EXAMPLE)
    @blp.response(200, V1Customer)
    @errors(400, 401, 403, 404, 409, 412)
    @authorize("customer.write")
    def patch(self, body, customer_id):
        """Change status along the state machine (409 `STATUS_TRANSITION_NOT_ALLOWED`
        otherwise); the operator (token `sub`, `name`) and time are recorded on the customer
        and in its status history."""
        customer = handlers.change_status(commands.ChangeStatus(
            request_context(), customer_id, body["status"], body.get("reason"), if_match_version()),
            customer_service().uow())
        return _customer_reply(customer)


@blp.route("/<int:customer_id>/order-eligibility")
class OrderEligibility(MethodView):
    @blp.doc(operationId="getCustomerOrderEligibility")
    @blp.response(200, envelope_schema(Surface.V1, EligibilitySchema))
    @errors(400, 401, 403, 404)
    @authorize("customer.read")
    def get(self, customer_id):
        """May this customer get a new order? (seed 001 §3.1, §4.2, 信用风险等级). The owner's
        answer that analytics-service asks, with the caller's token, before it records one.

        `eligible` is false when any rule refuses: `CUSTOMER_INACTIVE` (any status but
        active; not overridable), `CUSTOMER_OVERDUE` (the debt is past `payment_terms` days
        after the last order) and `CUSTOMER_HIGH_RISK` (over the credit limit or more than 30
        days overdue), both overridable by an explicit, recorded override. Also answers the
        figures the rules used. 404 for an unknown customer, another tenant's, or one outside
        the caller's business domains."""
        service = customer_service()
        answer = queries.eligibility(service.uow(), request_context(), customer_id, service.today(), service.timezone)
        return reply(answer)


def _history_route(path: str, kind: str, item_schema, summary: str, operation_id: str):
    """``GET /{customer_id}/<path>``: one kind of the audit trail, paged, newest first."""
    Page = page_schema(item_schema)

    class History(MethodView):
        @blp.doc(operationId=operation_id)
        @blp.arguments(HistoryQuerySchema(), location="query")
        @blp.response(200, envelope_schema(Surface.V1, Page))
        @errors(400, 401, 403, 404)
        @authorize("customer.history.read")
        def get(self, query, customer_id):
            items, total = queries.customer_history(customer_service().uow(), request_context(), customer_id, kind,
                                                    page=query["page"], page_size=query["page_size"])
            return reply(page_body(items, total, query["page"], query["page_size"]), headers=total_headers(total))

    History.get.__doc__ = summary + """

        `page` from 1, `page_size` ≤ 100, newest first; each entry with its operator
        (`operator_id`, `operator_name`), `trace_id` and time (`changed_at`). A deleted
        customer's history stays readable; another tenant's or domain's customer is 404."""
    History.__name__ = f"Customer{kind.title().replace('_', '')}History"
    blp.route(f"/<int:customer_id>/{path}")(History)


_history_route("status-history", "status", StatusChangeEntrySchema, "The customer's status changes (seed 003).",
               "listCustomerStatusHistory")
_history_route("rating-history", "rating", RatingChangeSchema, "The customer's rating changes (seed 001 §3.2).",
               "listCustomerRatingHistory")
_history_route("credit-limit-changes", "credit_limit", CreditLimitChangeSchema,
               "The customer's credit limit changes (seed 001 §4.1), the opening limit included.",
               "listCustomerCreditLimitChanges")
_history_route("balance-transactions", "balance", BalanceChangeSchema,
               "The customer's balance changes (seed 001 §4.2), the opening balance included.",
               "listCustomerBalanceTransactions")
