"""Issue 22: an integrator generates a typed Python client from the gateway's merged
``/openapi.json`` with openapi-python-client (pinned in requirements.lock) and uses it.

The document is fetched from the running gateway, the client is generated into a temporary
directory (offline: no post-hooks, spreadsheets as binary bodies, ``sdk/openapi-python-client.yaml``),
the generator must report no warning for any operation, and a round trip runs through the
gateway with the generated models: create, read, update with ``If-Match``, list and delete
on /api/v1; create, detail and export on the tenant API; an upsert on /api/external. Every
parsed response's ``data`` must be the generated model class, never a dictionary."""
from __future__ import annotations

import importlib
import json
import subprocess
import sys
import uuid

import pytest
import requests

from crm_testing import make_token, repo_root, wait_for

pytestmark = pytest.mark.system

CONFIG = repo_root() / "sdk" / "openapi-python-client.yaml"
PACKAGE = "crm_client"


def _merged_document(gateway: str) -> dict:
    """The gateway's document once every service's part is in it (``info.description`` lists
    a service that could not be fetched as unavailable)."""
    def complete():
        doc = requests.get(gateway + "/openapi.json", timeout=10).json()
        return doc if "unavailable" not in doc["info"]["description"] else None
    doc = wait_for(complete, timeout=30, interval=0.5)
    assert doc, "a service's document is missing from the gateway's /openapi.json"
    return doc


@pytest.fixture(scope="module")
def client_package(stack, tmp_path_factory):
    """The generated package, importable as ``crm_client`` while the module's tests run."""
    where = tmp_path_factory.mktemp("generated")
    spec = where / "openapi.json"
    spec.write_text(json.dumps(_merged_document(stack.gateway), ensure_ascii=False), encoding="utf-8")
    generated = subprocess.run(
        [sys.executable, "-m", "openapi_python_client", "generate", "--path", str(spec),
         "--output-path", str(where / PACKAGE), "--meta", "none", "--config", str(CONFIG)],
        capture_output=True, text=True, timeout=120, cwd=where)
    output = generated.stdout + generated.stderr
    assert generated.returncode == 0, output
    assert "warning" not in output.lower(), output  # e.g. "Cannot parse response ... Unsupported content_type"
    sys.path.insert(0, str(where))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(where))
        for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def _call(package, module: str, **kwargs):
    """``crm_client.api.<module>.sync_detailed(**kwargs)``: the response, with headers."""
    return importlib.import_module(f"{PACKAGE}.api.{module}").sync_detailed(**kwargs)


def _typed(response, model, status: int = 200):
    assert response.status_code == status, response.content
    data = response.parsed.data
    assert isinstance(data, model), f"data is {type(data).__name__}, not the generated {model.__name__}"
    return data


def test_round_trip_through_the_gateway_with_the_generated_models(stack, client_package):
    models = importlib.import_module(f"{PACKAGE}.models")
    factory = f"F{uuid.uuid4().hex[:8].upper()}"
    client = client_package.AuthenticatedClient(
        base_url=stack.gateway, token=make_token(roles=["admin"], factories=[factory]),
        raise_on_unexpected_status=True, timeout=30)
    name = f"生成客户-{uuid.uuid4().hex[:8]}"

    # /api/v1: create, read, update with If-Match, list, delete
    created = _call(client_package, "customers_v1.create_customer", client=client, x_factory_id=factory,
                    body=models.CreateCustomerRequest(customer=models.CustomerCreate(
                        name=name, type_=models.CustomerCreateType.COMPANY,
                        value_level=models.CustomerCreateValueLevelType0.VIP,
                        primary_contact_name="张三", primary_contact_phone="13800138000")))
    customer = _typed(created, models.Customer, 201)
    assert customer.name == name and customer.factory_id == factory

    read = _call(client_package, "customers_v1.get_customer", customer_id=customer.id, client=client,
                 x_factory_id=factory)
    assert _typed(read, models.Customer).primary_contact_phone == "13800138000"

    updated = _call(client_package, "customers_v1.update_customer", customer_id=customer.id, client=client,
                    x_factory_id=factory, if_match=read.headers["ETag"],
                    body=models.CustomerUpdate(contact_person="李四"))
    assert _typed(updated, models.Customer).primary_contact_name == "李四"
    stale = _call(client_package, "customers_v1.update_customer", customer_id=customer.id, client=client,
                  x_factory_id=factory, if_match=read.headers["ETag"], body=models.CustomerUpdate(notes="旧版本"))
    assert stale.status_code == 412 and isinstance(stale.parsed, models.V1Error)

    listed = _call(client_package, "customers_v1.list_customers", client=client, x_factory_id=factory, keyword=name)
    page = _typed(listed, models.CustomerPage)
    assert [item.id for item in page.items] == [customer.id]
    assert all(isinstance(item, models.Customer) for item in page.items)

    deleted = _call(client_package, "customers_v1.delete_customer", customer_id=customer.id, client=client,
                    x_factory_id=factory, if_match=updated.headers["ETag"])
    assert deleted.status_code == 200, deleted.content
    gone = _call(client_package, "customers_v1.get_customer", customer_id=customer.id, client=client,
                 x_factory_id=factory)
    assert gone.status_code == 404 and isinstance(gone.parsed, models.V1Error)

    # the tenant API: create, detail, export
    code = f"C{uuid.uuid4().hex[:8].upper()}"
    tenant_created = _call(client_package, "customers_mobile.create_tenant_customer", factory_id=factory,
                           client=client, body=models.MobileCustomerRequest(
                               name=f"{name}-租户", customer_code=code, type_=models.MobileCustomerRequestType.企业,
                               contact_person="王五", phone_number="13900139000", credit_limit=1000.5))
    tenant_customer = _typed(tenant_created, models.CustomerDTO)
    assert tenant_customer.customer_code == code

    detail = _call(client_package, "customers_mobile.get_tenant_customer", factory_id=factory,
                   customer_id=str(tenant_customer.id), client=client)
    assert _typed(detail, models.CustomerDTO).credit_limit == 1000.5

    exported = _call(client_package, "customers_mobile.export_tenant_customers", factory_id=factory, client=client)
    assert exported.status_code == 200
    assert isinstance(exported.parsed, client_package.types.File)
    assert exported.parsed.payload.read(2) == b"PK"  # an .xlsx is a zip file
    assert exported.headers["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")

    # /api/external: an upsert by userId
    integrator = client_package.AuthenticatedClient(
        base_url=stack.gateway, token=make_token(roles=["integrator"], factories=[factory]),
        raise_on_unexpected_status=True, timeout=30)
    user_id = f"u-{uuid.uuid4().hex[:12]}"
    upserted = _call(client_package, "external_customers.upsert_external_customer", client=integrator,
                     x_factory_id=factory, body=models.ExternalCustomer(user_id=user_id, name="赵六",
                                                                        phone="13700137000"))
    result = _typed(upserted, models.ExternalCustomerResult, upserted.status_code)
    assert upserted.status_code in (200, 201)
    assert result.user_id == user_id and result.action == "created"


def test_the_readme_round_trip_runs_as_written(stack, client_package):
    """README "A typed Python client": its Python block, run against this stack in a
    factory of its own."""
    section = (repo_root() / "README.md").read_text(encoding="utf-8").split("## A typed Python client")[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    factory = f"F{uuid.uuid4().hex[:8].upper()}"
    namespace = {"TOKEN": make_token(roles=["admin"], factories=[factory])}
    exec(code.replace("http://localhost:8080", stack.gateway).replace('"F001"', repr(factory)), namespace)  # noqa: S102
    models = importlib.import_module(f"{PACKAGE}.models")
    assert isinstance(namespace["customer"], models.Customer)
    assert isinstance(namespace["page"], models.CustomerPage)
    assert [item.primary_contact_name for item in namespace["page"].items] == ["李四"]
