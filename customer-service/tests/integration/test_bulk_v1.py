"""Bulk API on real PostgreSQL, in process: what is (not) written, per record and per
request; dry runs; idempotency keys under concurrency and expiry."""
from __future__ import annotations

import json
import threading
import uuid

import sqlalchemy as sa

from customer_service.bootstrap import service_of

CREATE = "/api/v1/customers/bulk-create/"
UPDATE = "/api/v1/customers/bulk-update/"
DELETE = "/api/v1/customers/bulk-delete/"


def _counts(app, factory):
    with service_of(app).engine.connect() as conn:
        customers = conn.execute(sa.text("SELECT count(*) FROM customers WHERE factory_id = :f"),
                                 {"f": factory}).scalar()
        events = conn.execute(sa.text("SELECT count(*) FROM outbox WHERE payload LIKE :p"),
                              {"p": f'%"factory_id":"{factory}"%'}).scalar()
    return customers, events


def test_failed_records_leave_no_row_and_no_event_and_successes_commit_with_theirs(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    resp = client.post(CREATE, headers=h, json={"customers": [
        {"name": "甲"}, {"name": "甲"}, {"name": "乙", "primary_contact_phone": "123"}, {"name": "丙"}]})
    body = resp.get_json()
    assert resp.status_code == 207 and body["code"] == 2070 and body["message"] == "部分操作成功"
    assert [c["name"] for c in body["data"]["created_customers"]] == ["甲", "丙"]
    assert body["data"]["failed_customers"][0] == {"data": {"name": "甲"}, "errors": {"name": ["客户名称已存在"]}}
    assert list(body["data"]["failed_customers"][1]["errors"]) == ["primary_contact_phone"]
    assert _counts(app, factory) == (2, 2)


def test_dry_run_answers_200_with_what_would_happen_without_ids_and_writes_nothing(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    client.post(CREATE, headers=h, json={"customers": [{"name": "已有"}]})
    before = _counts(app, factory)
    batch = {"customers": [{"name": "已有"}, {"name": "新的", "type": "company"}]}
    dry = client.post(CREATE + "?dry_run=true", headers=h, json=batch)
    assert _counts(app, factory) == before
    real = client.post(CREATE, headers=h, json=batch)
    assert (dry.status_code, dry.get_json()["code"], real.status_code) == (200, 2000, 207)
    would_be = dry.get_json()["data"]["created_customers"]
    assert [c.get("id", "absent") for c in would_be] == ["absent"] and would_be[0]["customer_code"] is None
    strip = lambda d: [{k: v for k, v in c.items() if k not in ("id", "customer_code", "created_at", "updated_at")}
                       for c in d["created_customers"]]  # noqa: E731
    assert dry.get_json()["data"]["dry_run"] is True and "dry_run" not in real.get_json()["data"]
    assert strip(dry.get_json()["data"]) == strip(real.get_json()["data"])
    assert dry.get_json()["data"]["failed_customers"] == real.get_json()["data"]["failed_customers"]
    assert _counts(app, factory) == (before[0] + 1, before[1] + 1)


def test_dry_run_of_update_and_delete_changes_nothing(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    cid = client.post(CREATE, headers=h, json={"customers": [{"name": "原样"}]}).get_json()["data"]["created_customers"][0]["id"]
    up = client.post(UPDATE + "?dry_run=true", headers=h, json={"customers": [{"id": cid, "notes": "改了"}]})
    assert up.status_code == 200 and up.get_json()["data"]["updated_customers"][0]["notes"] == "改了"
    rm = client.post(DELETE + "?dry_run=true", headers=h, json={"ids": [cid]})
    assert rm.status_code == 200 and rm.get_json()["data"]["deleted_ids"] == [cid]
    detail = client.get(f"/api/v1/customers/{cid}", headers=h).get_json()["data"]
    assert detail["notes"] is None and detail["version"] == 1


def test_same_idempotency_key_sent_twice_at_once_writes_once(app, headers_for, factory):
    h = dict(headers_for(factories=[factory]), **{"Idempotency-Key": f"k-{uuid.uuid4().hex}"})
    batch = {"customers": [{"name": f"并发幂等{i}"} for i in range(20)]}
    results, barrier = [], threading.Barrier(4)

    def send():
        with app.test_client() as c:
            barrier.wait()
            r = c.post(CREATE, headers=h, json=batch)
            results.append((r.status_code, r.headers.get("Idempotent-Replayed"), r.get_json()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(r[0] for r in results) == [201, 201, 201, 201]
    assert sorted(r[1] or "" for r in results) == ["", "true", "true", "true"]
    assert all(r[2]["data"] == results[0][2]["data"] for r in results)
    assert _counts(app, factory) == (20, 20)


def test_expired_idempotency_key_is_purged_and_the_request_runs_again(app, client, headers_for, factory):
    key = f"k-{uuid.uuid4().hex}"
    h = dict(headers_for(factories=[factory]), **{"Idempotency-Key": key})
    first = client.post(DELETE, headers=h, json={"ids": [999999]})
    assert first.status_code == 400
    with service_of(app).engine.begin() as conn:
        conn.execute(sa.text("UPDATE idempotency_keys SET expires_at = now() - interval '1 hour' WHERE key = :k"),
                     {"k": key})
    again = client.post(DELETE, headers=h, json={"ids": [999998]})  # another body: fine once expired
    assert again.status_code == 400 and again.get_json()["data"]["failed_ids"][0]["id"] == 999998
    with service_of(app).engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM idempotency_keys WHERE key = :k"), {"k": key}).scalar() == 1


def test_idempotency_keys_are_scoped_per_factory(client, headers_for, factory):
    key = f"k-{uuid.uuid4().hex}"
    one = client.post(CREATE, json={"customers": [{"name": "甲"}]},
                      headers=dict(headers_for(factories=[factory]), **{"Idempotency-Key": key}))
    two = client.post(CREATE, json={"customers": [{"name": "乙"}]},
                      headers=dict(headers_for(factories=["O" + factory]), **{"Idempotency-Key": key}))
    assert one.status_code == two.status_code == 201 and two.headers.get("Idempotent-Replayed") is None


def test_malformed_idempotency_key_is_400(client, headers_for, factory):
    resp = client.post(CREATE, json={"customers": [{"name": "甲"}]},
                       headers=dict(headers_for(factories=[factory]), **{"Idempotency-Key": "带空格 的键"}))
    assert resp.status_code == 400 and "Idempotency-Key" in resp.get_json()["errors"]


def test_bulk_update_status_follows_the_state_machine_and_records_the_operator(app, client, headers_for, factory):
    h = headers_for(factories=[factory], sub="u-9", name="王五")
    ids = [c["id"] for c in client.post(CREATE, headers=h, json={"customers": [
        {"name": "黑名单", "status": "blacklisted"}, {"name": "正常"}]}).get_json()["data"]["created_customers"]]
    resp = client.post(UPDATE, headers=h, json={"customers": [{"id": ids[0], "status": "active"},
                                                              {"id": ids[1], "status": "frozen"}]})
    body = resp.get_json()["data"]
    assert resp.status_code == 207
    assert body["failed_customers"][0]["errors"] == {"status": ["客户状态不能从 blacklisted 变更为 active"]}
    frozen = body["updated_customers"][0]
    assert frozen["status"] == "frozen" and frozen["status_changed_by"] == "u-9" \
        and frozen["status_changed_by_name"] == "王五"
    with service_of(app).engine.connect() as conn:
        row = conn.execute(sa.text("SELECT from_status, to_status, operator_name FROM customer_status_history "
                                   "WHERE customer_id = :id"), {"id": ids[1]}).one()
    assert tuple(row) == ("active", "frozen", "王五")


def test_bulk_update_validates_each_record_with_the_update_schema(client, headers_for, factory):
    h = headers_for(factories=[factory])
    cid = client.post(CREATE, headers=h, json={"customers": [{"name": "校验"}]}).get_json()["data"]["created_customers"][0]["id"]
    resp = client.post(UPDATE, headers=h, json={"customers": [
        {"id": cid, "value_level": "gold"}, {"id": cid}, {"id": cid, "contact_phone": "13800138000"}]})
    data = resp.get_json()["data"]
    assert resp.status_code == 207 and data["updated_count"] == 1
    assert list(data["failed_customers"][0]["errors"]) == ["value_level"]
    assert data["failed_customers"][1]["errors"] == {"_schema": ["至少需要提供一个要更新的字段"]}
    assert data["updated_customers"][0]["primary_contact_phone"] == "13800138000"


def test_bulk_delete_refuses_a_customer_that_owes_money(app, client, headers_for, factory):
    h = headers_for(factories=[factory])
    ids = [c["id"] for c in client.post(CREATE, headers=h, json={"customers": [
        {"name": "欠款"}, {"name": "清白"}]}).get_json()["data"]["created_customers"]]
    with service_of(app).engine.begin() as conn:
        conn.execute(sa.text("UPDATE customers SET current_balance = -1500 WHERE id = :id"), {"id": ids[0]})
    resp = client.post(DELETE, headers=h, json={"ids": ids})
    data = resp.get_json()["data"]
    assert resp.status_code == 207 and data["deleted_ids"] == [ids[1]]
    assert data["failed_ids"] == [{"id": ids[0], "error": "客户存在欠款 1500.00，不能删除"}]


def test_non_admins_are_refused_before_the_body_is_read(client, headers_for, factory):
    for roles in (["factory_admin"], ["sales_admin"], ["viewer"]):
        resp = client.post(CREATE, headers=headers_for(roles=roles, factories=[factory]), data="{broken")
        assert resp.status_code == 403 and resp.get_json()["code"] == 4030


def test_more_than_100_records_is_400_naming_the_limit(client, headers_for, factory):
    h = headers_for(factories=[factory])
    resp = client.post(CREATE, headers=h, json={"customers": [{"name": f"n{i}"} for i in range(101)]})
    assert resp.status_code == 400
    assert resp.get_json()["errors"] == {"customers": ["每次批量操作最多 100 条记录，本次提交 101 条"]}
    resp = client.post(DELETE, headers=h, json={"ids": list(range(1, 102))})
    assert resp.status_code == 400 and "100" in resp.get_json()["errors"]["ids"][0]


def test_malformed_bulk_bodies_are_400(client, headers_for, factory):
    h = headers_for(factories=[factory])
    cases = [(CREATE, {"customers": "x"}), (CREATE, {"customers": [1]}), (CREATE, {"other": []}),
             (UPDATE, {"customers": [{"id": True, "notes": "x"}]}), (DELETE, {"ids": ["a"]}),
             (DELETE, {"ids": [True]})]
    for path, body in cases:
        resp = client.post(path, headers=h, json=body)
        assert resp.status_code == 400 and resp.get_json()["code"] == 4000, (path, body, resp.get_json())


def test_each_created_customer_has_its_created_event_with_the_actor(app, client, headers_for, factory):
    h = headers_for(factories=[factory], sub="u-bulk")
    ids = [c["id"] for c in client.post(CREATE, headers=h, json={"customers": [
        {"name": "事件1"}, {"name": "事件2"}]}).get_json()["data"]["created_customers"]]
    with service_of(app).engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT aggregate_id, event_type, payload FROM outbox WHERE aggregate_id IN :ids")
                            .bindparams(sa.bindparam("ids", expanding=True)), {"ids": [str(i) for i in ids]}).all()
    assert sorted((int(r[0]), r[1]) for r in rows) == [(ids[0], "customer.created"), (ids[1], "customer.created")]
    assert all(json.loads(r[2])["actor"]["sub"] == "u-bulk" for r in rows)


def test_a_name_taken_by_a_concurrent_transaction_fails_only_that_record(app, client, headers_for, factory):
    """The batch's name check cannot see an uncommitted insert; the unique index makes the
    batch wait for it and refuse it, and the batch then goes record by record."""
    h = headers_for(factories=[factory])
    engine = service_of(app).engine
    rival = engine.connect()
    tx = rival.begin()
    rival.execute(sa.text(
        "INSERT INTO customers (factory_id, business_domain, customer_code, name, status, credit_limit, "
        "current_balance, payment_terms, rating, source, viewing_count, total_commission, version, created_at, "
        "updated_at) VALUES (:f, 'DEFAULT', :code, '抢先', 'active', 0, 0, 30, 3, 'manual', 0, 0, 1, now(), now())"),
        {"f": factory, "code": f"RIVAL-{uuid.uuid4().hex[:8]}"})
    result = {}

    def send():
        with app.test_client() as c:
            result["resp"] = c.post(CREATE, headers=h, json={"customers": [{"name": "甲方"}, {"name": "抢先"},
                                                                           {"name": "乙方"}]})

    worker = threading.Thread(target=send)
    worker.start()
    worker.join(1.0)
    assert worker.is_alive(), "the batch should wait for the rival transaction"
    tx.commit()
    rival.close()
    worker.join(30)
    body = result["resp"].get_json()
    assert result["resp"].status_code == 207
    assert [c["name"] for c in body["data"]["created_customers"]] == ["甲方", "乙方"]
    assert body["data"]["failed_customers"] == [{"data": {"name": "抢先"}, "errors": {"name": ["客户名称已存在"]}}]
    assert _counts(app, factory) == (3, 2)  # the rival's row has no event of ours
