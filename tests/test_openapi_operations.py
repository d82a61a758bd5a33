"""Issue 22: what a client generator reads from the merged OpenAPI document.

Every service runs in process on SQLite and the gateway's merge is applied to their
documents exactly as the gateway does it (``gateway.openapi.merge_documents``), so this
needs no running service: every operation has a stable camelCase ``operationId`` in the
business's words, unique across the whole API (a new route without one fails here);
nullable payloads keep their schema; a path parameter has one name per surface; the
headers the API reads are declared; spreadsheets are binary responses."""
from __future__ import annotations

import importlib
import json
import re

import pytest
from openapi_spec_validator import validate

from crm_common.config import Settings
from crm_common.migrations import migrations_home, upgrade_head
from crm_testing import TEST_JWT_SECRET, free_port

SERVICES = {
    "customer": ("customer_service.app", "customer-service"),
    "viewing": ("viewing_service.app", "viewing-service"),
    "analytics": ("analytics_service.app", "analytics-service"),
    "sync": ("sync_worker.app", "sync-worker"),
    "webhook": ("webhook_service.app", "webhook-service"),
    "issuer": ("token_issuer.app", "token-issuer"),
}
METHODS = ("get", "put", "post", "delete", "patch")
CAMEL_CASE = re.compile(r"[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)*")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def operations(doc: dict):
    for path, item in doc["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


@pytest.fixture(scope="module")
def documents(tmp_path_factory) -> dict[str, dict]:
    """Each service's own document, and the gateway's merged one under ``"merged"``."""
    from gateway.app import create_app as create_gateway
    from gateway.openapi import merge_documents

    tmp = tmp_path_factory.mktemp("openapi")
    dead = f"http://127.0.0.1:{free_port()}"
    docs = {}
    for name, (module, directory) in SERVICES.items():
        url = f"sqlite:///{tmp}/{name}.sqlite"
        upgrade_head(migrations_home(module.split(".")[0]), url)  # Alembic files are package data
        env = {f"{name.upper()}_DATABASE_URL": url, "JWT_SECRET": TEST_JWT_SECRET,
               "AMQP_URL": f"amqp://guest:guest@127.0.0.1:{free_port()}/%2F",
               **{f"{n}_SERVICE_URL": dead for n in ("CUSTOMER", "VIEWING", "ANALYTICS", "SYNC", "WEBHOOK")}}
        app = importlib.import_module(module).create_app(Settings.from_env(name, env))
        docs[name] = app.test_client().get("/openapi.json").get_json()
    gateway = create_gateway(Settings.from_env("gateway", {"JWT_SECRET": TEST_JWT_SECRET}))
    own = gateway.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    docs["gateway"] = own
    docs["merged"] = merge_documents(own, [(name, docs[name]) for name in SERVICES])
    return docs


def test_every_operation_has_a_stable_camel_case_operation_id(documents):
    missing, badly_named = [], []
    for name, doc in documents.items():
        for path, method, operation in operations(doc):
            op_id = operation.get("operationId")
            if not op_id:
                missing.append(f"{name}: {method.upper()} {path}")
            elif not CAMEL_CASE.fullmatch(op_id):
                badly_named.append(f"{name}: {method.upper()} {path} -> {op_id}")
    assert not missing, "operations without operationId (add @blp.doc(operationId=...)): " + ", ".join(missing)
    assert not badly_named, "operationId must be camelCase business words: " + ", ".join(badly_named)


def test_operation_ids_are_unique_across_the_merged_document(documents):
    merged = documents["merged"]
    validate(merged)
    seen: dict[str, str] = {}
    duplicates = []
    for path, method, operation in operations(merged):
        op_id = operation["operationId"]
        if op_id in seen:
            duplicates.append(f"{op_id}: {seen[op_id]} and {method.upper()} {path}")
        seen[op_id] = f"{method.upper()} {path}"
    assert not duplicates
    # nothing had to be renamed by the merge (it would prefix the service's key and "_")
    assert all(CAMEL_CASE.fullmatch(op_id) for op_id in seen)
    # the names the README and the integrators use
    expected = {"createTenantCustomer": ("post", "/api/mobile/{factoryId}/customers"),
                "getCustomer": ("get", "/api/v1/customers/{customer_id}"),
                "listCustomers": ("get", "/api/v1/customers"),
                "updateCustomer": ("put", "/api/v1/customers/{customer_id}"),
                "deleteCustomer": ("delete", "/api/v1/customers/{customer_id}"),
                "upsertExternalCustomer": ("post", "/api/external/customers"),
                "exportTenantCustomers": ("get", "/api/mobile/{factoryId}/customers/export"),
                "recordOrder": ("put", "/api/v1/analytics/orders/{order_id}")}
    for op_id, (method, path) in expected.items():
        assert seen[op_id] == f"{method.upper()} {path}"


def test_nullable_payloads_keep_their_schema(documents):
    """apispec's default for a nullable nested schema is ``anyOf: [{"type": "object",
    "nullable": true}, {"$ref": ...}]``; generators then type ``data`` as any object."""
    merged = documents["merged"]
    assert '{"type": "object", "nullable": true}' not in json.dumps(merged)
    schemas = merged["components"]["schemas"]
    for name, schema in schemas.items():
        if name.endswith("Envelope"):
            data = schema["properties"]["data"]
            assert "anyOf" not in data and "oneOf" not in data, name
            if "allOf" in data:
                assert len(data["allOf"]) == 1 and data.get("nullable") is True, name
    assert schemas["V1CustomerEnvelope"]["properties"]["data"] == {
        "allOf": [{"$ref": "#/components/schemas/Customer"}], "nullable": True}


def _surface(path: str) -> str:
    return "/".join(path.split("/")[:3])


def test_a_path_parameter_has_one_name_per_surface(documents):
    """``{factoryId}`` on every tenant path, whichever service answers it (analytics used
    ``{factory_id}``); one spelling of each parameter within a surface."""
    names: dict[tuple[str, str], set[str]] = {}
    for path, _method, _operation in operations(documents["merged"]):
        for name in re.findall(r"{([^}]+)}", path):
            key = (_surface(path), name.replace("_", "").lower())
            names.setdefault(key, set()).add(name)
    assert {key: spelled for key, spelled in names.items() if len(spelled) > 1} == {}
    # and one type: a customer's id on the tenant API is a string wherever it is used
    types: dict[tuple[str, str], set[str]] = {}
    for path, item in documents["merged"]["paths"].items():
        for parameter in item.get("parameters", []):
            if parameter.get("in") == "path":
                types.setdefault((_surface(path), parameter["name"]), set()).add(parameter["schema"]["type"])
    assert {key: spelled for key, spelled in types.items() if len(spelled) > 1} == {}
    assert types[("/api/mobile", "customerId")] == {"string"}
    mobile = [path for path in documents["merged"]["paths"] if path.startswith("/api/mobile/")]
    assert mobile and all(path.startswith("/api/mobile/{factoryId}/customers") for path in mobile)
    assert not [path for path in mobile if "{customer_id}" in path]


def _declared_headers(doc: dict, operation: dict) -> set[str]:
    headers = set()
    for parameter in operation.get("parameters", []):
        if "$ref" in parameter:
            parameter = doc["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
        if parameter.get("in") == "header":
            headers.add(parameter["name"].lower())
    return headers


def test_headers_the_api_reads_are_declared(documents):
    merged = documents["merged"]
    for path, method, operation in operations(merged):
        if operation.get("x-permission") in ("public", None):
            continue
        headers = _declared_headers(merged, operation)
        where = f"{method.upper()} {path}"
        assert "x-request-id" in headers, where
        if path.startswith(("/api/v1/", "/api/external/")):
            assert "x-factory-id" in headers, where
        if "412" in operation["responses"]:
            assert "if-match" in headers, where
    for path in ("/api/v1/customers/bulk-create/", "/api/v1/customers/bulk-update/", "/api/v1/customers/bulk-delete/"):
        assert "idempotency-key" in _declared_headers(merged, merged["paths"][path]["post"])
    for path in ("/api/v1/customers/{customer_id}", "/api/mobile/{factoryId}/customers/{customerId}"):
        assert "if-match" in _declared_headers(merged, merged["paths"][path]["put"])


def test_spreadsheets_are_binary_responses(documents):
    merged = documents["merged"]
    spreadsheets = []
    for path, method, operation in operations(merged):
        for status, response in operation["responses"].items():
            if XLSX in response.get("content", {}):
                assert response["content"][XLSX]["schema"] == {"type": "string", "format": "binary"}, path
                spreadsheets.append(f"{method.upper()} {path} {status}")
    assert sorted(spreadsheets) == ["GET /api/mobile/{factoryId}/customers/export 200",
                                    "GET /api/mobile/{factoryId}/customers/export/template 200"]


def test_undocumented_errors_are_in_the_surfaces_envelope(documents):
    """The ``default`` response of every /api/ operation is its surface's error model, not
    flask-smorest's ``Error``, which no service answers."""
    merged = documents["merged"]
    expected = {"/api/v1": "V1DefaultError", "/api/mobile": "MobileDefaultError", "/api/external": "ExternalDefaultError"}
    for path, method, operation in operations(merged):
        if path.startswith("/api/"):
            assert operation["responses"]["default"] == {
                "$ref": f"#/components/responses/{expected[_surface(path)]}"}, f"{method.upper()} {path}"
    schemas = {name: response["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
               for name, response in merged["components"]["responses"].items()}
    assert schemas["V1DefaultError"] == "V1Error" and schemas["MobileDefaultError"] == "MobileError"
    assert schemas["ExternalDefaultError"] == "ExternalError"
