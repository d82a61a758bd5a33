"""/api/v1/api-clients: an admin creates, lists, reads, rotates and revokes API clients;
every change is audited with its operator; secrets are shown once and never stored."""
from __future__ import annotations

import sqlalchemy as sa

from crm_common import authz
from crm_testing import auth_headers


def test_an_admin_creates_a_client_and_sees_its_secret_once(client, admin, new_client, pg_url):
    created = new_client(roles=("integrator",), factories=("F001",), domains=("GENERAL_WAREHOUSING",))
    assert created["client_id"].startswith("ac_") and created["client_secret"].startswith("crm_cs_")
    assert created["status"] == "active" and created["created_by"] == "u-admin"
    assert (created["roles"], created["factories"], created["domains"]) == (["integrator"], ["F001"],
                                                                             ["GENERAL_WAREHOUSING"])
    detail = client.get(f"/api/v1/api-clients/{created['client_id']}", headers=admin).get_json()["data"]
    assert "client_secret" not in detail and detail["name"] == "ERP 对接"
    listed = client.get("/api/v1/api-clients?page_size=100", headers=admin).get_json()["data"]
    assert {"items", "total", "page", "page_size", "total_pages"} <= set(listed)
    assert not any("client_secret" in item for item in listed["items"])
    engine = sa.create_engine(pg_url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT secret_hash FROM api_clients WHERE client_id = :c"),
                              {"c": created["client_id"]}).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and created["client_secret"] not in stored


def test_rotation_and_revocation_are_audited_with_the_operator(client, admin, new_client):
    created = new_client()
    path = f"/api/v1/api-clients/{created['client_id']}"
    rotated = client.post(f"{path}/rotate-secret", headers=admin)
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    assert rotated.get_json()["data"]["client_secret"] not in (None, created["client_secret"])
    other_admin = auth_headers(roles=("admin",), sub="u-boss", name="老板")
    revoked = client.post(f"{path}/revoke", headers=other_admin).get_json()["data"]
    assert revoked["status"] == "revoked" and revoked["revoked_by"] == "u-boss"
    assert client.post(f"{path}/revoke", headers=admin).status_code == 200  # again: nothing changes
    refused = client.post(f"{path}/rotate-secret", headers=admin)
    assert refused.status_code == 409 and refused.get_json()["code"] == 4090
    history = client.get(f"{path}/audit", headers=admin).get_json()["data"]
    assert [(e["action"], e["operator_id"]) for e in history["items"]] == [
        ("revoked", "u-boss"), ("secret_rotated", "u-admin"), ("created", "u-admin")]
    assert history["items"][-1]["details"]["roles"] == ["integrator"]
    assert all(e["trace_id"] for e in history["items"])
    assert client.get("/api/v1/api-clients?status=revoked&page_size=100",
                      headers=admin).get_json()["data"]["total"] >= 1


def test_bad_bodies_are_400_with_the_failing_fields(client, admin):
    resp = client.post("/api/v1/api-clients", headers=admin,
                       json={"name": "", "roles": ["superuser"], "factories": [], "extra": 1})
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == 4000
    assert {"name", "roles.0", "factories", "domains", "extra"} <= set(body["errors"])
    assert client.get("/api/v1/api-clients/ac_nobody", headers=admin).status_code == 404
    assert client.get("/api/v1/api-clients?status=deleted", headers=admin).status_code == 400


def test_only_admins_manage_clients(client):
    assert authz.roles_for("api_client.manage") == {"admin"}
    for role in ("factory_admin", "integrator", "analyst"):
        headers = auth_headers(roles=(role,))
        assert client.get("/api/v1/api-clients", headers=headers).status_code == 403
        assert client.post("/api/v1/api-clients", headers=headers, json={}).status_code == 403
    assert client.get("/api/v1/api-clients").status_code == 401
