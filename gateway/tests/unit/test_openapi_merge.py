"""Merging service documents into one (no I/O)."""
from __future__ import annotations

from openapi_spec_validator import validate

from gateway.openapi import merge_documents

OWN = {
    "openapi": "3.0.3", "info": {"title": "CRM API", "version": "1", "description": "gateway"},
    "paths": {"/healthz": {"get": {"responses": {"200": {"description": "alive"}}}}},
    "components": {"schemas": {"Error": {"type": "object", "properties": {"code": {"type": "integer"}}}}},
}


def service_doc(path: str, error_props: dict) -> dict:
    return {
        "openapi": "3.0.3", "info": {"title": "svc", "version": "1"},
        "security": [{"bearerAuth": []}],
        "paths": {
            "/healthz": {"get": {"responses": {"200": {"description": "mine"}}}},
            path: {"get": {"operationId": "list", "tags": ["things"], "responses": {
                "200": {"description": "ok", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Page"}}}}}}},
        },
        "components": {
            "schemas": {
                "Error": {"type": "object", "properties": error_props},
                "Page": {"type": "object", "properties": {"error": {"$ref": "#/components/schemas/Error"}}},
            },
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
        "tags": [{"name": "things"}, {"name": "unused"}],
    }


def test_colliding_components_are_prefixed_and_refs_follow_them():
    customer = service_doc("/api/v1/customers", {"code": {"type": "integer"}})  # same Error as own
    viewing = service_doc("/api/external/viewing-records", {"reason": {"type": "string"}})
    merged = merge_documents(OWN, [("customer", customer), ("viewing", viewing), ("sync", "ConnectionError")])
    validate(merged)
    schemas = merged["components"]["schemas"]
    assert schemas["Error"] == OWN["components"]["schemas"]["Error"]  # equal content: shared
    assert schemas["ViewingError"] == {"type": "object", "properties": {"reason": {"type": "string"}}}
    # Page refers to a renamed Error, so viewing's Page differs from customer's and is renamed too
    assert schemas["Page"]["properties"]["error"]["$ref"] == "#/components/schemas/Error"
    assert schemas["ViewingPage"]["properties"]["error"]["$ref"] == "#/components/schemas/ViewingError"
    viewing_op = merged["paths"]["/api/external/viewing-records"]["get"]
    assert viewing_op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] == \
        "#/components/schemas/ViewingPage"
    # operation ids stay unique, the service's default security is kept per operation
    assert viewing_op["operationId"] == "viewing_list"
    assert viewing_op["security"] == [{"bearerAuth": []}]
    # a service's own /healthz is not routed through the gateway, so the gateway's stays
    assert merged["paths"]["/healthz"]["get"]["responses"]["200"]["description"] == "alive"
    assert [t["name"] for t in merged["tags"]] == ["things"]
    assert "sync-worker: 不可用 / unavailable (ConnectionError)" in merged["info"]["description"]
    assert "customer-service: ok (1 paths)" in merged["info"]["description"]
