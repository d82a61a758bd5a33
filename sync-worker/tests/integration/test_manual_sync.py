"""Manual sync of one or many customers, sync-from-contract, and the history they leave
(seed 004 §3.2, §7.2, §7.3)."""
from __future__ import annotations


def _make(client, headers, consumer, customer, projects=2, contracts=1):
    consumer.apply(customer.created())
    pids = [client.post("/api/v1/projects", json={"name": f"p{i}", "customer_id": customer.id},
                        headers=headers).get_json()["data"]["id"] for i in range(projects)]
    cids = [client.post("/api/v1/contracts", json={"contract_no": f"M-{customer.id}-{i}", "customer_id": customer.id,
                                                   "project_id": pids[0] if pids else None},
                        headers=headers).get_json()["data"]["id"] for i in range(contracts)]
    return pids, cids


def test_manual_sync_applies_customer_services_current_state_and_answers_the_seed_result(
        client, headers_for, factory, consumer, customer_events, customer_service):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    pids, cids = _make(client, headers, consumer, customer)
    # An auto_sync=false change left the rows behind; customer-service knows the newest state.
    consumer.apply(customer.updated(auto_sync=False, name="手动同步的新名字"))
    customer_service.customers[customer.id] = {**customer.state, "primary_contact_phone": "13600000000",
                                               "version": customer.version + 1}
    resp = client.post(f"/api/v1/sync/customers/{customer.id}", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["message"] == "已同步 2 个项目的客户信息"
    data = body["data"]
    assert data["success"] is True and data["updated_count"] == 2 and sorted(data["updated_projects"]) == sorted(pids)
    assert data["updated_contracts"] == cids and data["source"] == "customer-service"
    assert data["updated_fields"] == ["customer_name", "customer_phone", "contact_phone"]
    project = client.get(f"/api/v1/projects/{pids[0]}", headers=headers).get_json()["data"]
    assert (project["customer_name"], project["customer_phone"]) == ("手动同步的新名字", "13600000000")
    entry = client.get(f"/api/v1/sync/history?customer_id={customer.id}&trigger=manual",
                       headers=headers).get_json()["data"]["items"][0]
    assert entry["operator_id"] == "u-test" and entry["project_count"] == 2 and entry["contract_count"] == 1
    # Again: nothing left to change.
    again = client.post(f"/api/v1/sync/customers/{customer.id}", headers=headers).get_json()
    assert again["message"] == "已同步 0 个项目的客户信息" and again["data"]["updated_fields"] == []


def test_manual_sync_falls_back_to_the_snapshot_when_customer_service_is_down(
        client, headers_for, factory, consumer, customer_events, customer_service):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    pids, _ = _make(client, headers, consumer, customer, projects=1, contracts=0)
    consumer.apply(customer.updated(auto_sync=False, primary_contact_name="快照里的联系人"))
    customer_service.down = True
    try:
        resp = client.post(f"/api/v1/sync/customers/{customer.id}", headers=headers)
    finally:
        customer_service.down = False
    assert resp.status_code == 200 and resp.get_json()["data"]["source"] == "snapshot"
    assert client.get(f"/api/v1/projects/{pids[0]}", headers=headers).get_json()["data"]["customer_contact"] == "快照里的联系人"


def test_batch_sync_reports_unknown_customers_and_syncs_the_rest(
        client, headers_for, factory, consumer, customer_events, customer_service):
    headers = headers_for(factories=[factory])
    a, b = customer_events(factory), customer_events(factory)
    a_projects, _ = _make(client, headers, consumer, a, projects=2, contracts=0)
    b_projects, _ = _make(client, headers, consumer, b, projects=1, contracts=1)
    for customer, name in ((a, "甲新"), (b, "乙新")):
        consumer.apply(customer.updated(auto_sync=False, name=name))
        customer_service.customers[customer.id] = dict(customer.state)
    resp = client.post("/api/v1/sync/customers", json={"customer_ids": [a.id, 999999001, b.id, a.id]},
                       headers=headers)
    assert resp.status_code == 207 and resp.get_json()["code"] == 2070
    data = resp.get_json()["data"]
    assert (data["total"], data["succeeded"], data["failed"]) == (3, 2, 1)
    assert data["updated_count"] == 3 and data["updated_contract_count"] == 1
    assert data["message"] == "已同步 3 个项目的客户信息"
    failed = [r for r in data["results"] if not r["success"]]
    assert failed == [{"customer_id": 999999001, "success": False, "message": "客户 999999001 不存在或已被删除",
                       "code": 4040}]
    too_many = client.post("/api/v1/sync/customers", json={"customer_ids": list(range(1, 102))}, headers=headers)
    assert too_many.status_code == 400 and "customer_ids" in too_many.get_json()["errors"]


def test_a_batch_where_every_customer_fails_is_a_400_that_still_reports_each(client, headers_for, factory):
    resp = client.post("/api/v1/sync/customers", json={"customer_ids": [999999101, 999999102]},
                       headers=headers_for(factories=[factory]))
    assert resp.status_code == 400
    body = resp.get_json()
    assert (body["success"], body["code"]) == (False, 4000) and "customer_ids" in body["errors"]
    assert (body["data"]["succeeded"], body["data"]["failed"]) == (0, 2)
    assert [r["code"] for r in body["data"]["results"]] == [4040, 4040]


def test_sync_from_contract_copies_the_contracts_customer_fields_into_the_project(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    pids, cids = _make(client, headers, consumer, customer, projects=1, contracts=1)
    # The project fell behind (auto_sync=false), then its contract was re-pointed and refreshed.
    consumer.apply(customer.updated(auto_sync=False, primary_contact_name="合同上的联系人"))
    assert client.put(f"/api/v1/contracts/{cids[0]}", json={"customer_id": customer.id},
                      headers=headers).get_json()["data"]["contact_person"] == "合同上的联系人"
    resp = client.post(f"/api/v1/projects/{pids[0]}/sync-from-contract", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    data = resp.get_json()["data"]
    assert data["updated_fields"] == ["customer_contact"] and data["contract_id"] == cids[0]
    assert data["project"]["customer_contact"] == "合同上的联系人"
    entry = client.get(f"/api/v1/sync/history?customer_id={customer.id}&trigger=contract",
                       headers=headers).get_json()["data"]["items"][0]
    assert entry["project_ids"] == [pids[0]] and entry["project_fields"] == ["customer_contact"]
    lonely = client.post("/api/v1/projects", json={"name": "无合同", "customer_id": customer.id},
                         headers=headers).get_json()["data"]["id"]
    missing = client.post(f"/api/v1/projects/{lonely}/sync-from-contract", headers=headers)
    assert missing.status_code == 404 and "contract_id" in missing.get_json()["errors"]


def test_an_event_older_than_a_manual_sync_never_takes_projects_back(
        client, headers_for, factory, consumer, customer_events, customer_service):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    pids, _ = _make(client, headers, consumer, customer, projects=1, contracts=0)
    late = customer.updated(name="较早的名字")         # v2: still on its way through the broker
    newest = customer.updated(name="最新的名字")       # v3: customer-service already has it
    customer_service.customers[customer.id] = dict(customer.state)
    assert client.post(f"/api/v1/sync/customers/{customer.id}", headers=headers).status_code == 200
    assert consumer.apply(late) == "applied"
    assert client.get(f"/api/v1/projects/{pids[0]}", headers=headers).get_json()["data"]["customer_name"] == "最新的名字"
    assert consumer.apply(newest) == "applied"
    assert client.get(f"/api/v1/projects/{pids[0]}", headers=headers).get_json()["data"]["customer_name"] == "最新的名字"
