"""/api/v1/webhooks: subscriptions of outside systems and their delivery log (CONTRACT §6).

Views validate, call the service layer, and reply."""
from __future__ import annotations

from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, reply, request_context

from ..service_layer import subscriptions as svc
from .deps import uow, webhooks
from .schemas import (
    DeletedSchema,
    DeliveryPageSchema,
    DeliveryQuerySchema,
    DeliverySchema,
    PageQuerySchema,
    WebhookCreatedSchema,
    WebhookCreateSchema,
    WebhookPageSchema,
    WebhookSchema,
    WebhookUpdateSchema,
)

blp = Blueprint("webhooks_v1", __name__, url_prefix="/api/v1/webhooks",
                description="Webhook subscriptions (CONTRACT §6): events of the caller's tenant and business "
                            "domains POSTed to a URL, signed (X-CRM-Signature), retried with backoff, logged. "
                            "Roles: admin, factory_admin, integrator.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731


@blp.route("")
class Webhooks(MethodView):
    @blp.doc(operationId="createWebhook")
    @blp.arguments(WebhookCreateSchema)
    @blp.response(201, envelope_schema(Surface.V1, WebhookCreatedSchema))
    @errors(400, 401, 403, 409)
    @authorize("webhook.manage")
    def post(self, body):
        """Subscribe a URL to events of the tenant (and of the token's business domains).

        The answer carries `secret`, the key of the `X-CRM-Signature` HMAC, shown this once.
        400 names `url` (not http(s); in production not https to a public address) or
        `events` (an unknown pattern)."""
        ctx = request_context()
        sub = svc.create_subscription(uow(), ctx, svc.CreateSubscription(**body), webhooks().targets,
                                      webhooks().settings.max_subscriptions_per_tenant)
        return reply(sub, status=201, headers={"Location": f"/api/v1/webhooks/{sub.id}"})

    @blp.doc(operationId="listWebhooks")
    @blp.arguments(PageQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, WebhookPageSchema))
    @errors(400, 401, 403)
    @authorize("webhook.manage")
    def get(self, query):
        """The tenant's subscriptions that the caller's domains cover, newest first."""
        ctx = request_context()
        return reply(svc.list_subscriptions(uow(), ctx, page=query["page"], page_size=query["page_size"]))


@blp.route("/<int:webhook_id>")
class WebhookById(MethodView):
    @blp.doc(operationId="getWebhook")
    @blp.response(200, envelope_schema(Surface.V1, WebhookSchema))
    @errors(401, 403, 404)
    @authorize("webhook.manage")
    def get(self, webhook_id):
        """One subscription (never its secret). Another tenant's or domain's is 404."""
        return reply(svc.get_subscription(uow(), request_context(), webhook_id))

    @blp.doc(operationId="updateWebhook")
    @blp.arguments(WebhookUpdateSchema)
    @blp.response(200, envelope_schema(Surface.V1, WebhookSchema))
    @errors(400, 401, 403, 404)
    @authorize("webhook.manage")
    def patch(self, changes, webhook_id):
        """Change `url`, `events`, `description`, or `active` (false pauses it; true
        reactivates it after an automatic deactivation, resuming what was pending)."""
        return reply(svc.update_subscription(uow(), request_context(), webhook_id, changes, webhooks().targets))

    @blp.doc(operationId="deleteWebhook")
    @blp.response(200, envelope_schema(Surface.V1, DeletedSchema))
    @errors(401, 403, 404)
    @authorize("webhook.manage")
    def delete(self, webhook_id):
        """Delete the subscription; nothing more is sent to it (pending deliveries are given up)."""
        svc.delete_subscription(uow(), request_context(), webhook_id)
        return reply({"id": webhook_id, "deleted": True}, message="删除成功")


@blp.route("/<int:webhook_id>/deliveries")
class WebhookDeliveries(MethodView):
    @blp.doc(operationId="listWebhookDeliveries")
    @blp.arguments(DeliveryQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, DeliveryPageSchema))
    @errors(400, 401, 403, 404)
    @authorize("webhook.manage")
    def get(self, query, webhook_id):
        """The delivery log, newest first: event, attempts, last status code, next attempt,
        state (`pending`, `delivered`, `failed`). Filters: `state`, `event_id`."""
        return reply(svc.list_deliveries(uow(), request_context(), webhook_id, state=query.get("state"),
                                         event_id=query.get("event_id"), page=query["page"],
                                         page_size=query["page_size"]))


@blp.route("/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver")
class WebhookRedeliver(MethodView):
    @blp.doc(operationId="redeliverWebhookDelivery")
    @blp.response(202, envelope_schema(Surface.V1, DeliverySchema))
    @errors(401, 403, 404, 409)
    @authorize("webhook.manage")
    def post(self, webhook_id, delivery_id):
        """Send a delivered or failed delivery's event again: a new delivery with the same
        `X-CRM-Event-Id`, queued now (409 while the original is still pending)."""
        return reply(svc.redeliver(uow(), request_context(), webhook_id, delivery_id), status=202)


@blp.route("/<int:webhook_id>/ping")
class WebhookPing(MethodView):
    @blp.doc(operationId="pingWebhook")
    @blp.response(202, envelope_schema(Surface.V1, DeliverySchema))
    @errors(401, 403, 404)
    @authorize("webhook.manage")
    def post(self, webhook_id):
        """Queue a signed `webhook.ping` event to the URL (one attempt, also when the
        subscription is inactive); its outcome appears in the delivery log."""
        return reply(svc.ping(uow(), request_context(), webhook_id), status=202)
