"""/api/v1/webhooks on a real PostgreSQL database: subscriptions per tenant and business
domain, the secret shown once, validation naming the field, the production URL rules,
the delivery log, redelivery and ping."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_testing import make_token, wait_for
from webhook_service.adapters.orm import deliveries
from webhook_service.app import create_app

V1 = "/api/v1/webhooks"


def test_create_answers_the_subscription_with_its_secret_once(client, headers_for, factory):
    headers = headers_for(roles=["integrator"], factories=[factory], domains=["D1", "D2"])
    resp = client.post(V1, json={"url": "http://127.0.0.1:9999/crm", "events": ["viewing.*", "customer.*", "viewing.*"],
                                 "description": "ERP 同步"}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    assert (body["success"], body["code"]) == (True, 2000)
    data = body["data"]
    assert data["url"] == "http://127.0.0.1:9999/crm" and data["events"] == ["customer.*", "viewing.*"]
    assert data["active"] is True and data["domains"] == ["D1", "D2"] and data["factory_id"] == factory
    assert data["secret"].startswith("whsec_") and data["created_at"]
    assert resp.headers["Location"] == f"{V1}/{data['id']}"

    one = client.get(f"{V1}/{data['id']}", headers=headers).get_json()["data"]
    listed = client.get(V1, headers=headers).get_json()["data"]
    assert "secret" not in one and all("secret" not in item for item in listed["items"])
    assert (listed["total"], listed["page"], listed["page_size"], listed["total_pages"]) == (1, 1, 20, 1)
    assert one["description"] == "ERP 同步"


def test_bad_input_is_a_400_naming_each_field(client, headers_for, factory):
    headers = headers_for(factories=[factory])
    resp = client.post(V1, json={"url": "ftp://hooks.example.com/x", "events": ["customer.*", "customer.merged"]},
                       headers=headers)
    body = resp.get_json()
    assert resp.status_code == 400 and body["code"] == 4000 and body["success"] is False
    assert set(body["errors"]) == {"url", "events"}
    assert "customer.merged" in body["errors"]["events"][0]
    for payload, field in [({"events": ["*"]}, "url"), ({"url": "http://h.example/"}, "events"),
                           ({"url": "http://h.example/", "events": []}, "events"),
                           ({"url": "http://h.example/", "events": "customer.*"}, "events"),
                           ({"url": "http://h.example/", "events": ["*"], "secret": "mine"}, "secret"),
                           ({"url": "https://u:p@h.example/", "events": ["*"]}, "url")]:
        resp = client.post(V1, json=payload, headers=headers)
        assert resp.status_code == 400 and field in resp.get_json()["errors"], (payload, resp.get_json())
    assert client.get(V1, query_string={"page_size": 101}, headers=headers).status_code == 400
    created = client.post(V1, json={"url": "http://h.example/", "events": ["*"]}, headers=headers).get_json()["data"]
    resp = client.patch(f"{V1}/{created['id']}", json={"active": "yes"}, headers=headers)
    assert resp.status_code == 400 and "active" in resp.get_json()["errors"]
    assert client.patch(f"{V1}/{created['id']}", json={}, headers=headers).status_code == 400


def test_another_tenants_subscription_is_404_on_every_route(client, headers_for, factory):
    mine = headers_for(factories=[factory])
    created = client.post(V1, json={"url": "http://h.example/", "events": ["*"]}, headers=mine).get_json()["data"]
    theirs = headers_for(factories=["OTHER-" + factory])
    sid = created["id"]
    for method, path in [("get", f"{V1}/{sid}"), ("patch", f"{V1}/{sid}"), ("delete", f"{V1}/{sid}"),
                         ("get", f"{V1}/{sid}/deliveries"), ("post", f"{V1}/{sid}/ping"),
                         ("post", f"{V1}/{sid}/deliveries/1/redeliver")]:
        resp = getattr(client, method)(path, json={"active": False} if method == "patch" else None, headers=theirs)
        assert resp.status_code == 404 and resp.get_json()["code"] == 4040, (method, path)
    assert client.get(V1, headers=theirs).get_json()["data"]["total"] == 0
    assert client.get(f"{V1}/{sid}", headers=mine).get_json()["data"]["active"] is True  # untouched


def test_a_caller_manages_only_subscriptions_its_business_domains_cover(client, headers_for, factory):
    d1 = headers_for(roles=["factory_admin"], factories=[factory], domains=["D1"])
    d2 = headers_for(roles=["factory_admin"], factories=[factory], domains=["D2"])
    everything = headers_for(factories=[factory])
    of_d1 = client.post(V1, json={"url": "http://h.example/1", "events": ["*"]}, headers=d1).get_json()["data"]
    of_all = client.post(V1, json={"url": "http://h.example/a", "events": ["*"]}, headers=everything).get_json()["data"]
    assert of_d1["domains"] == ["D1"] and of_all["domains"] == ["*"]
    assert client.get(f"{V1}/{of_d1['id']}", headers=d2).status_code == 404
    assert client.get(f"{V1}/{of_all['id']}", headers=d1).status_code == 404
    assert [s["id"] for s in client.get(V1, headers=d1).get_json()["data"]["items"]] == [of_d1["id"]]
    assert {s["id"] for s in client.get(V1, headers=everything).get_json()["data"]["items"]} == {
        of_d1["id"], of_all["id"]}


def test_a_token_without_any_business_domain_cannot_subscribe(client, headers_for, factory):
    resp = client.post(V1, json={"url": "http://h.example/", "events": ["*"]},
                       headers=headers_for(roles=["integrator"], factories=[factory], domains=[]))
    assert resp.status_code == 403


def test_roles_outside_the_table_are_refused(client, headers_for, factory):
    for role in ("sales_admin", "analyst", "viewer", "finance_admin"):
        resp = client.post(V1, json={"url": "http://h.example/", "events": ["*"]},
                           headers=headers_for(roles=[role], factories=[factory]))
        assert resp.status_code == 403, role


def test_patch_changes_fields_and_deactivating_by_hand_says_so(client, headers_for, factory):
    headers = headers_for(factories=[factory])
    sid = client.post(V1, json={"url": "http://h.example/", "events": ["*"]}, headers=headers).get_json()["data"]["id"]
    changed = client.patch(f"{V1}/{sid}", json={"url": "https://h.example/v2", "events": ["order.recorded"],
                                                 "description": "v2", "active": False}, headers=headers).get_json()
    data = changed["data"]
    assert (data["url"], data["events"], data["description"], data["active"]) == (
        "https://h.example/v2", ["order.recorded"], "v2", False)
    assert data["deactivated_reason"] == "已手动停用" and data["deactivated_at"] and data["version"] == 2
    back = client.patch(f"{V1}/{sid}", json={"active": True}, headers=headers).get_json()["data"]
    assert back["active"] is True and back["deactivated_reason"] is None and back["deactivated_at"] is None


def test_delete_hides_the_subscription_and_gives_up_what_was_pending(client, headers_for, factory, consumer,
                                                                     customer_events):
    headers = headers_for(factories=[factory])
    sid = client.post(V1, json={"url": "http://127.0.0.1:9/", "events": ["*"]}, headers=headers).get_json()["data"]["id"]
    consumer.apply(customer_events(factory).created())
    [pending] = client.get(f"{V1}/{sid}/deliveries", headers=headers).get_json()["data"]["items"]
    assert pending["state"] == "pending"
    resp = client.delete(f"{V1}/{sid}", headers=headers)
    assert resp.status_code == 200 and resp.get_json()["data"] == {"id": sid, "deleted": True}
    assert client.get(f"{V1}/{sid}", headers=headers).status_code == 404
    assert client.delete(f"{V1}/{sid}", headers=headers).status_code == 404
    with consumer.session_factory() as session:
        state, error = session.execute(sa.select(deliveries.c.state, deliveries.c.last_error)
                                       .where(deliveries.c.id == pending["id"])).one()
    assert (state, error) == ("failed", "订阅已删除")


def test_the_delivery_log_is_newest_first_filterable_and_redeliverable(client, headers_for, factory, consumer,
                                                                      customer_events, receiver, start_worker):
    headers = headers_for(factories=[factory])
    sid = client.post(V1, json={"url": receiver.url("/log"), "events": ["customer.*"]},
                      headers=headers).get_json()["data"]["id"]
    customer = customer_events(factory)
    events = [customer.created(), customer.updated(name="新名称"), customer.updated(name="又一个名称")]
    for event in events:
        consumer.apply(event)
    page = client.get(f"{V1}/{sid}/deliveries", query_string={"page_size": 2}, headers=headers).get_json()["data"]
    assert (page["total"], page["total_pages"]) == (3, 2)
    assert [d["aggregate_version"] for d in page["items"]] == [3, 2]  # newest first
    assert all(d["state"] == "pending" and d["attempts"] == 0 and d["next_attempt_at"] for d in page["items"])
    first = client.get(f"{V1}/{sid}/deliveries", query_string={"event_id": events[0]["event_id"]},
                       headers=headers).get_json()["data"]["items"][0]
    resp = client.post(f"{V1}/{sid}/deliveries/{first['id']}/redeliver", headers=headers)
    assert resp.status_code == 409  # still pending

    start_worker()
    def delivered_page():
        return client.get(f"{V1}/{sid}/deliveries", query_string={"state": "delivered"},
                          headers=headers).get_json()["data"]
    assert wait_for(lambda: delivered_page()["total"] == 3, timeout=15)
    assert len(receiver.accepted("/log")) == 3
    assert all(d["attempts"] == 1 and d["last_status_code"] == 200 and d["next_attempt_at"] is None
               and d["delivered_at"] for d in delivered_page()["items"])

    again = client.post(f"{V1}/{sid}/deliveries/{first['id']}/redeliver", headers=headers)
    assert again.status_code == 202
    redelivery = again.get_json()["data"]
    assert redelivery["redelivery_of"] == first["id"] and redelivery["event_id"] == events[0]["event_id"]
    assert wait_for(lambda: len(receiver.accepted("/log")) == 4, timeout=15)
    last = receiver.accepted("/log")[-1]
    assert (last.event_id, last.delivery_id) == (events[0]["event_id"], str(redelivery["id"]))
    assert client.post(f"{V1}/{sid}/deliveries/999999999/redeliver", headers=headers).status_code == 404
    assert client.get(f"{V1}/{sid}/deliveries", query_string={"state": "lost"}, headers=headers).status_code == 400


def test_ping_sends_one_signed_ping_even_to_an_inactive_subscription(client, headers_for, factory, receiver,
                                                                     start_worker):
    headers = headers_for(factories=[factory])
    created = client.post(V1, json={"url": receiver.url("/ping"), "events": ["order.recorded"]},
                          headers=headers).get_json()["data"]
    receiver.secrets["/ping"] = created["secret"]
    client.patch(f"{V1}/{created['id']}", json={"active": False}, headers=headers)
    resp = client.post(f"{V1}/{created['id']}/ping", headers=headers)
    assert resp.status_code == 202 and resp.get_json()["data"]["event_type"] == "webhook.ping"
    start_worker()
    [call] = wait_for(lambda: receiver.accepted("/ping"), timeout=15)
    assert call.signature_ok and call.headers["x-crm-event-type"] == "webhook.ping"
    assert call.event["data"]["subscription_id"] == created["id"] and call.event["factory_id"] == factory


# --- production rules through the API ------------------------------------------------------------

@pytest.fixture(scope="module")
def production_client(settings_with):
    # HS256 test tokens are accepted in production only with ALLOW_HS256=1 (the issuer's are asymmetric).
    settings = settings_with(CRM_ENV="production", JWT_SECRET="p" * 40, ALLOW_HS256="1",
                             WEBHOOK_ALLOWED_HOSTS="erp-bridge.localhost")
    return create_app(settings).test_client(), {
        "Authorization": "Bearer " + make_token(factories=["FPROD"], secret="p" * 40)}


@pytest.mark.parametrize("url", ["https://127.0.0.1/hook", "https://localhost:8443/hook", "https://[::1]/hook",
                                 "https://169.254.169.254/latest/meta-data/", "https://10.0.0.8/hook",
                                 "http://127.0.0.1:8080/hook"])
def test_in_production_a_loopback_private_or_metadata_target_is_refused(production_client, url):
    client, headers = production_client
    resp = client.post(V1, json={"url": url, "events": ["customer.*"]}, headers=headers)
    assert resp.status_code == 400, resp.get_json()
    assert list(resp.get_json()["errors"]) == ["url"]


def test_in_production_an_allowed_host_may_be_plain_http(production_client):
    client, headers = production_client
    resp = client.post(V1, json={"url": "http://erp-bridge.localhost:9000/hook", "events": ["*"]}, headers=headers)
    assert resp.status_code == 201, resp.get_json()


def test_a_tenant_has_a_bounded_number_of_subscriptions(settings_with, headers_for, factory):
    client = create_app(settings_with(WEBHOOK_MAX_SUBSCRIPTIONS_PER_TENANT="2")).test_client()
    headers = headers_for(factories=[factory])
    codes = [client.post(V1, json={"url": f"http://h.example/{i}", "events": ["*"]}, headers=headers).status_code
             for i in range(3)]
    assert codes == [201, 201, 409]
