"""/api/v1/api-clients: an admin manages integrators' credentials (CONTRACT §3).

Views validate, call the service layer, and reply in the /api/v1 envelope."""
from __future__ import annotations

import dataclasses

from flask import g
from flask.views import MethodView

from crm_common.authz import authorize
from crm_common.envelopes import Surface, envelope_schema
from crm_common.schemas import document_errors
from crm_common.web import Blueprint, current_principal, reply

from ..bootstrap import issuer
from ..domain.model import Operator
from ..service_layer import clients as svc
from .schemas import (
    ApiClientCreateSchema,
    ApiClientListQuerySchema,
    ApiClientPageSchema,
    ApiClientSchema,
    ApiClientSecretSchema,
    AuditPageSchema,
    AuditQuerySchema,
)

blp = Blueprint("api_clients_v1", __name__, url_prefix="/api/v1/api-clients",
                description="API clients (OAuth 2.0 client credentials) of outside systems. Admin only. "
                            "Every change is audited with its operator.")

errors = lambda *codes: document_errors(blp, Surface.V1, *codes)  # noqa: E731
CLIENT = envelope_schema(Surface.V1, ApiClientSchema)
WITH_SECRET = envelope_schema(Surface.V1, ApiClientSecretSchema)


def operator() -> Operator:
    principal = current_principal()
    return Operator(principal.sub, principal.name or principal.sub, g.get("trace_id"))


def with_secret(issued: svc.IssuedSecret) -> dict:
    return {**dataclasses.asdict(issued.client), "client_secret": issued.client_secret}


@blp.route("")
class ApiClients(MethodView):
    @blp.doc(operationId="createApiClient")
    @blp.arguments(ApiClientCreateSchema)
    @blp.response(201, WITH_SECRET)
    @errors(400, 401, 403)
    @authorize("api_client.manage")
    def post(self, body):
        """Create an API client: answers its `client_id` and `client_secret`.

        The secret is shown in this answer only (the issuer keeps an argon2id hash): hand
        both to the integrator, who exchanges them at `POST /oauth/token` for short-lived
        tokens carrying exactly these `roles`, `factories` and `domains`. Any CONTRACT §3
        role may be granted (usually `integrator`); `admin` too, which is how automation gets
        an admin token in production, so grant it with care: it is audited like every change."""
        parts = issuer()
        issued = svc.create_client(parts.uow_factory(), svc.CreateClient(**body), operator(), parts.hasher,
                                   parts.now())
        return reply(with_secret(issued), status=201,
                     headers={"Location": f"/api/v1/api-clients/{issued.client.client_id}", "Cache-Control": "no-store"})

    @blp.doc(operationId="listApiClients")
    @blp.arguments(ApiClientListQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, ApiClientPageSchema))
    @errors(400, 401, 403)
    @authorize("api_client.manage")
    def get(self, query):
        """List API clients, newest first; `status` (active / revoked), `page`, `page_size` (≤ 100).
        Secrets are never listed."""
        return reply(svc.list_clients(issuer().uow_factory(), status=query.get("status"), page=query["page"],
                                      page_size=query["page_size"]))


@blp.route("/<string:client_id>")
class ApiClientById(MethodView):
    @blp.doc(operationId="getApiClient")
    @blp.response(200, CLIENT)
    @errors(401, 403, 404)
    @authorize("api_client.manage")
    def get(self, client_id):
        """One API client (without its secret, which is not kept)."""
        return reply(svc.get_client(issuer().uow_factory(), client_id))


@blp.route("/<string:client_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.doc(operationId="rotateApiClientSecret")
    @blp.response(200, WITH_SECRET)
    @errors(401, 403, 404, 409)
    @authorize("api_client.manage")
    def post(self, client_id):
        """Give the client a new secret, shown in this answer only. The old secret stops
        working at once; tokens already issued with it stay valid until they expire
        (at most ISSUER_TOKEN_TTL, 10 minutes by default); revoke the client to end those.
        409 for a revoked client."""
        parts = issuer()
        issued = svc.rotate_secret(parts.uow_factory(), client_id, operator(), parts.hasher, parts.now())
        return reply(with_secret(issued), headers={"Cache-Control": "no-store"})


@blp.route("/<string:client_id>/revoke")
class Revoke(MethodView):
    @blp.doc(operationId="revokeApiClient")
    @blp.response(200, CLIENT)
    @errors(401, 403, 404)
    @authorize("api_client.manage")
    def post(self, client_id):
        """Revoke the client for good: no new tokens, and its tokens already issued are
        refused by the gateway and every service within REVOCATION_MAX_AGE_SECONDS (30 s;
        usually within REVOCATION_POLL_SECONDS, 5 s). Revoking again changes nothing."""
        parts = issuer()
        return reply(svc.revoke_client(parts.uow_factory(), client_id, operator(), parts.now()))


@blp.route("/<string:client_id>/audit")
class Audit(MethodView):
    @blp.doc(operationId="listApiClientAudit")
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, envelope_schema(Surface.V1, AuditPageSchema))
    @errors(400, 401, 403, 404)
    @authorize("api_client.manage")
    def get(self, query, client_id):
        """The client's history, newest first: who created it, rotated its secret or
        revoked it, when, and the trace id of that request."""
        return reply(svc.client_audit(issuer().uow_factory(), client_id, page=query["page"],
                                      page_size=query["page_size"]))
