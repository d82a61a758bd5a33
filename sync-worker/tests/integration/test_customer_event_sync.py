"""The consumer's handler on a real database: customer events refresh the snapshot and,
for name/contact/phone changes with auto_sync on, update projects and contracts once."""
from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from sync_worker.adapters import orm


def _setup(client, headers, customer, consumer, projects=2, contracts=1):
    assert consumer.apply(customer.created()) == "applied"
    project_ids = [client.post("/api/v1/projects", json={"name": f"项目{i}", "customer_id": customer.id},
                               headers=headers).get_json()["data"]["id"] for i in range(projects)]
    contract_ids = [client.post("/api/v1/contracts", json={"contract_no": f"HT-{customer.id}-{i}",
                                                           "customer_id": customer.id}, headers=headers)
                    .get_json()["data"]["id"] for i in range(contracts)]
    return project_ids, contract_ids


def _project(client, headers, pid):
    return client.get(f"/api/v1/projects/{pid}", headers=headers).get_json()["data"]


def _contract(client, headers, cid):
    return client.get(f"/api/v1/contracts/{cid}", headers=headers).get_json()["data"]


def _history(client, headers, customer_id, **params):
    return client.get("/api/v1/sync/history", query_string={"customer_id": customer_id, **params},
                      headers=headers).get_json()["data"]


def test_name_contact_and_phone_changes_reach_every_project_and_contract_with_a_history_entry(
        client, headers_for, factory, consumer, customer_events, caplog):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    other = customer_events(factory)
    projects, contracts = _setup(client, headers, customer, consumer, projects=3, contracts=2)
    other_projects, _ = _setup(client, headers, other, consumer, projects=1, contracts=0)

    event = customer.updated(name="新客户名称", primary_contact_name="新联系人", primary_contact_phone="13900000000",
                             trace_id="trace-seed-004")
    with caplog.at_level(logging.INFO):
        assert consumer.apply(event) == "applied"

    for pid in projects:
        p = _project(client, headers, pid)
        assert (p["customer_name"], p["customer_contact"], p["customer_phone"]) == ("新客户名称", "新联系人", "13900000000")
        assert p["version"] == 2 and p["updated_by"] == "sync-worker" and p["customer_synced_at"]
    for cid in contracts:
        c = _contract(client, headers, cid)
        assert (c["customer_name"], c["contact_person"], c["contact_phone"]) == ("新客户名称", "新联系人", "13900000000")
    untouched = _project(client, headers, other_projects[0])
    assert untouched["customer_name"] == other.state["name"] and untouched["version"] == 1

    page = _history(client, headers, customer.id)
    assert page["total"] == 1
    entry = page["items"][0]
    assert entry["trigger"] == "event" and entry["outcome"] == "success"
    assert entry["event_id"] == event["event_id"] and entry["trace_id"] == "trace-seed-004"
    assert entry["changed_fields"] == ["name", "primary_contact_name", "primary_contact_phone"]
    assert entry["project_fields"] == ["customer_name", "customer_contact", "customer_phone"]
    assert entry["contract_fields"] == ["customer_name", "contact_person", "contact_phone"]
    assert sorted(entry["project_ids"]) == sorted(projects) and entry["project_count"] == 3
    assert sorted(entry["contract_ids"]) == sorted(contracts) and entry["contract_count"] == 2
    assert entry["customer_version"] == customer.version and entry["operator_id"] == "u-1"

    messages = [r.msg.get("event") if isinstance(r.msg, dict) else r.getMessage() for r in caplog.records]
    assert f"客户 {customer.id} 信息已自动同步到 3 个项目: customer_name, customer_contact, customer_phone" in messages
    assert f"客户 {customer.id} 信息已自动同步到 2 个合同: customer_name, contact_person, contact_phone" in messages


def test_only_changed_values_are_written(client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    projects, contracts = _setup(client, headers, customer, consumer, projects=1, contracts=1)
    assert consumer.apply(customer.updated(primary_contact_phone="13911112222")) == "applied"
    entry = _history(client, headers, customer.id)["items"][0]
    assert entry["project_fields"] == ["customer_phone"] and entry["contract_fields"] == ["contact_phone"]
    # The same values again (e.g. a name set back and forth): nothing left to write.
    assert consumer.apply(customer.updated(primary_contact_phone="13911112222")) == "applied"
    entry = _history(client, headers, customer.id)["items"][0]
    assert entry["project_count"] == 0 and entry["contract_count"] == 0 and entry["outcome"] == "success"
    assert _project(client, headers, projects[0])["version"] == 2


def test_auto_sync_false_keeps_projects_and_contracts_and_is_recorded_as_skipped(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    old_name = customer.state["name"]
    projects, contracts = _setup(client, headers, customer, consumer)
    assert consumer.apply(customer.updated(auto_sync=False, name="不同步的新名字")) == "applied"
    assert _project(client, headers, projects[0])["customer_name"] == old_name
    assert _contract(client, headers, contracts[0])["customer_name"] == old_name
    entry = _history(client, headers, customer.id)["items"][0]
    assert entry["outcome"] == "skipped" and entry["changed_fields"] == ["name"] and entry["project_count"] == 0
    # The snapshot still learned the new name: new projects get it.
    created = client.post("/api/v1/projects", json={"name": "后建项目", "customer_id": customer.id}, headers=headers)
    assert created.get_json()["data"]["customer_name"] == "不同步的新名字"


def test_changes_of_other_customer_fields_do_not_sync_or_enter_the_history(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    projects, _ = _setup(client, headers, customer, consumer)
    assert consumer.apply(customer.updated(notes="只改备注")) == "applied"
    assert _history(client, headers, customer.id)["total"] == 0
    assert _project(client, headers, projects[0])["version"] == 1


def test_a_redelivered_or_older_event_changes_nothing(client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    projects, _ = _setup(client, headers, customer, consumer)
    first = customer.updated(name="第一次")
    second = customer.updated(name="第二次")
    assert consumer.apply(second) == "applied"
    assert consumer.apply(second) == "duplicate"
    assert consumer.apply(first) == "stale"
    assert _project(client, headers, projects[0])["customer_name"] == "第二次"
    assert [e["event_id"] for e in _history(client, headers, customer.id)["items"]] == [second["event_id"]]


def test_a_deleted_customer_keeps_its_projects_but_gets_no_new_ones(
        client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    projects, _ = _setup(client, headers, customer, consumer)
    assert consumer.apply(customer.deleted()) == "applied"
    assert _project(client, headers, projects[0])["customer_name"] == customer.state["name"]
    refused = client.post("/api/v1/projects", json={"name": "x", "customer_id": customer.id}, headers=headers)
    assert refused.status_code == 404 and refused.get_json()["errors"] == {"customer_id": ["客户不存在或已被删除"]}


def test_a_failing_sync_logs_the_seed_error_line_records_the_failure_and_rolls_back_its_own_changes(
        client, headers_for, factory, consumer, customer_events, engine, caplog):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    projects, _ = _setup(client, headers, customer, consumer)
    old_name = customer.state["name"]
    too_long = "名" * 150  # longer than the column: the database refuses the write
    event = customer.updated(name=too_long)
    with caplog.at_level(logging.INFO), pytest.raises(sa.exc.DBAPIError):
        consumer.apply(event)
    messages = [r.msg.get("event") if isinstance(r.msg, dict) else r.getMessage() for r in caplog.records]
    assert any(m.startswith("客户信息自动同步失败: ") for m in messages)
    assert _project(client, headers, projects[0])["customer_name"] == old_name
    with engine.connect() as conn:
        rows = conn.execute(sa.select(orm.sync_history.c.outcome, orm.sync_history.c.error)
                            .where(orm.sync_history.c.event_id == event["event_id"])).all()
        processed = conn.execute(sa.select(sa.func.count()).select_from(orm.processed_events)
                                 .where(orm.processed_events.c.event_id == event["event_id"])).scalar()
    assert [r.outcome for r in rows] == ["failed"] and "DataError" in rows[0].error
    assert processed == 0  # not marked processed: the broker will deliver it again
