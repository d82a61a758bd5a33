"""Seed 000 (bulk create / update / soft-delete of customers) end to end through the
gateway: every request and response example of the seed (ids aside) and each error it
lists, partial success, all-failed, the name race, Idempotency-Key and dry runs."""
from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.system

CREATE, UPDATE, DELETE = ("/api/v1/customers/bulk-create/", "/api/v1/customers/bulk-update/",
                          "/api/v1/customers/bulk-delete/")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")

# The seed's request records, verbatim.
CUSTOMER_A = {"name": "客户A", "type": "company", "value_level": "vip", "status": "active",
              "business_license_number": "91110000123456789X", "industry_type": "信息技术",
              "company_size": "medium", "primary_contact_name": "张三", "primary_contact_phone": "13800138000"}
CUSTOMER_B = {"name": "客户B", "type": "company", "value_level": "normal", "status": "active",
              "business_license_number": "91110000123456788X", "industry_type": "制造业",
              "company_size": "large", "primary_contact_name": "李四", "primary_contact_phone": "13900139000"}


def assert_seed_customer(expected: dict, actual: dict) -> None:
    """The seed's customer object, ids and timestamps aside (they must still be there)."""
    assert isinstance(actual["id"], int)
    for key, value in expected.items():
        if key == "id":
            continue
        if key in ("created_at", "updated_at"):
            assert ISO_Z.match(actual[key]), actual[key]
        else:
            assert actual[key] == value, (key, actual[key], value)


def names_in(api, keyword: str) -> list[str]:
    page = api.get("/api/v1/customers", params={"keyword": keyword, "page_size": 100}).json()["data"]
    return sorted(c["name"] for c in page["items"])


@pytest.fixture
def admin(client_for, factory):
    return client_for(roles=["admin"], factories=[factory])


# --- 1. 批量创建客户 -----------------------------------------------------------------------

def test_bulk_create_seed_example_creates_both_and_answers_201(admin):
    resp = admin.post(CREATE, json={"customers": [CUSTOMER_A, CUSTOMER_B]})
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert (body["success"], body["code"], body["message"]) == (True, 2000, "操作成功")
    data = body["data"]
    assert (data["created_count"], data["failed_count"], data["failed_customers"]) == (2, 0, [])
    for expected, actual in zip(({**CUSTOMER_A, "created_at": ""}, {**CUSTOMER_B, "created_at": ""}),
                                data["created_customers"]):
        assert_seed_customer(expected, actual)
    assert data["created_customers"][0]["id"] != data["created_customers"][1]["id"]
    assert names_in(admin, "客户") == ["客户A", "客户B"]


def test_bulk_create_seed_partial_success_is_207_with_the_failed_record_echoed(admin):
    assert admin.post(CREATE, json={"customers": [CUSTOMER_B]}).status_code == 201
    resp = admin.post(CREATE, json={"customers": [CUSTOMER_A, CUSTOMER_B]})
    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert (body["success"], body["code"], body["message"]) == (True, 2070, "部分操作成功")
    data = body["data"]
    assert (data["created_count"], data["failed_count"]) == (1, 1)
    assert_seed_customer({**CUSTOMER_A, "created_at": ""}, data["created_customers"][0])
    assert data["failed_customers"] == [{"data": CUSTOMER_B, "errors": {"name": ["客户名称已存在"]}}]


@pytest.mark.parametrize("body", [{"customers": []}, {}, {"customers": None}])
def test_bulk_create_without_customers_is_the_seed_400(admin, body):
    resp = admin.post(CREATE, json=body)
    assert resp.status_code == 400
    assert resp.json() == {"success": False, "code": 4000, "message": "请求参数错误",
                           "errors": {"customers": ["必须提供至少一个客户"]}}


def test_bulk_create_duplicate_inside_one_request_fails_the_later_record(admin):
    resp = admin.post(CREATE, json={"customers": [{"name": "同名"}, {"name": "另一个"}, {"name": "同名", "notes": "后"}]})
    data = resp.json()["data"]
    assert resp.status_code == 207
    assert [c["name"] for c in data["created_customers"]] == ["同名", "另一个"]
    assert data["failed_customers"] == [{"data": {"name": "同名", "notes": "后"}, "errors": {"name": ["客户名称已存在"]}}]


def test_bulk_create_when_every_record_fails_is_400_with_the_detail(admin):
    resp = admin.post(CREATE, json={"customers": [{"name": "x", "type": "alien"}, {"type": "company"}]})
    assert resp.status_code == 400
    body = resp.json()
    assert body["success"] is False and body["code"] == 4000
    assert body["data"]["created_count"] == 0 and body["data"]["failed_count"] == 2
    assert list(body["data"]["failed_customers"][0]["errors"]) == ["type"]
    assert body["data"]["failed_customers"][1]["errors"] == {"name": ["该字段为必填项"]}


def test_bulk_paths_work_with_and_without_the_trailing_slash(admin):
    assert admin.post(CREATE.rstrip("/"), json={"customers": [{"name": "无斜杠"}]}).status_code == 201
    assert names_in(admin, "无斜杠") == ["无斜杠"]


def test_more_than_100_records_is_refused_naming_the_limit(admin):
    resp = admin.post(CREATE, json={"customers": [{"name": f"超限{i}"} for i in range(101)]})
    assert resp.status_code == 400 and "最多 100 条" in resp.json()["errors"]["customers"][0]
    assert names_in(admin, "超限") == []


@pytest.mark.parametrize("roles", [["factory_admin"], ["sales_admin"], ["viewer"]])
def test_bulk_endpoints_are_admin_only(client_for, factory, roles):
    api = client_for(roles=roles, factories=[factory])
    for path, body in ((CREATE, {"customers": [{"name": "x"}]}), (UPDATE, {"customers": [{"id": 1, "notes": "x"}]}),
                       (DELETE, {"ids": [1]})):
        resp = api.post(path, json=body)
        assert resp.status_code == 403 and resp.json()["code"] == 4030


# --- 2. 批量更新客户 -----------------------------------------------------------------------

def _seed_two(admin) -> tuple[int, int]:
    created = admin.post(CREATE, json={"customers": [{"name": "上海普全公司", "status": "active"},
                                                     {"name": "hello1", "value_level": "normal"}]})
    one, two = created.json()["data"]["created_customers"]
    return one["id"], two["id"]


def test_bulk_update_seed_example_answers_200_with_both_updated(admin):
    id1, id2 = _seed_two(admin)
    resp = admin.post(UPDATE, json={"customers": [{"id": id1, "status": "inactive", "notes": "已暂停合作"},
                                                  {"id": id2, "value_level": "vip", "notes": "已升级为VIP客户"}]})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert (body["success"], body["code"], body["message"]) == (True, 2000, "操作成功")
    data = body["data"]
    assert (data["updated_count"], data["failed_count"], data["failed_customers"]) == (2, 0, [])
    assert_seed_customer({"id": 1, "name": "上海普全公司", "status": "inactive", "notes": "已暂停合作",
                          "updated_at": ""}, data["updated_customers"][0])
    assert_seed_customer({"id": 2, "name": "hello1", "value_level": "vip", "notes": "已升级为VIP客户",
                          "updated_at": ""}, data["updated_customers"][1])
    assert [c["id"] for c in data["updated_customers"]] == [id1, id2]
    assert admin.get(f"/api/v1/customers/{id2}").json()["data"]["value_level"] == "vip"


def test_bulk_update_seed_partial_success_reports_the_missing_customer(admin):
    id1, id2 = _seed_two(admin)
    assert admin.post(DELETE, json={"ids": [id2]}).status_code == 200
    resp = admin.post(UPDATE, json={"customers": [{"id": id1, "status": "inactive", "notes": "已暂停合作"},
                                                  {"id": id2, "value_level": "vip", "notes": "已升级为VIP客户"}]})
    assert resp.status_code == 207, resp.text
    body = resp.json()
    assert (body["success"], body["code"], body["message"]) == (True, 2070, "部分操作成功")
    assert (body["data"]["updated_count"], body["data"]["failed_count"]) == (1, 1)
    assert_seed_customer({"name": "上海普全公司", "status": "inactive", "notes": "已暂停合作", "updated_at": ""},
                         body["data"]["updated_customers"][0])
    assert body["data"]["failed_customers"] == [{
        "data": {"id": id2, "value_level": "vip", "notes": "已升级为VIP客户"},
        "errors": {"id": ["客户不存在或已被删除"]}}]


def test_bulk_update_seed_errors_empty_list_and_record_without_id(admin):
    empty = admin.post(UPDATE, json={"customers": []})
    assert empty.status_code == 400 and empty.json() == {
        "success": False, "code": 4000, "message": "请求参数错误", "errors": {"customers": ["必须提供至少一个客户"]}}
    no_id = admin.post(UPDATE, json={"customers": [{"status": "inactive"}]})
    assert no_id.status_code == 400 and no_id.json() == {
        "success": False, "code": 4000, "message": "请求参数错误", "errors": {"id": ["每个客户记录必须包含ID"]}}


def test_bulk_update_respects_the_status_state_machine_and_unique_names(admin):
    id1, id2 = _seed_two(admin)
    resp = admin.post(UPDATE, json={"customers": [{"id": id1, "status": "potential"}, {"id": id2, "name": "上海普全公司"},
                                                  {"id": id2, "status": "frozen"}]})
    data = resp.json()["data"]
    assert resp.status_code == 207
    assert data["failed_customers"][0]["errors"] == {"status": ["客户状态不能从 active 变更为 potential"]}
    assert data["failed_customers"][1]["errors"] == {"name": ["客户名称已存在"]}
    assert data["updated_customers"][0]["status"] == "frozen"


# --- 3. 批量删除客户 -----------------------------------------------------------------------

def test_bulk_delete_seed_example_deletes_all_three(admin):
    ids = [c["id"] for c in admin.post(CREATE, json={"customers": [{"name": f"删{i}"} for i in range(3)]})
           .json()["data"]["created_customers"]]
    resp = admin.post(DELETE, json={"ids": ids})
    assert resp.status_code == 200
    assert resp.json() == {"success": True, "code": 2000, "message": "操作成功", "data": {
        "deleted_count": 3, "failed_count": 0, "deleted_ids": ids, "failed_ids": []}}
    assert names_in(admin, "删") == []
    assert admin.get(f"/api/v1/customers/{ids[0]}").status_code == 404


def test_bulk_delete_seed_partial_success_reports_the_missing_id(admin):
    ids = [c["id"] for c in admin.post(CREATE, json={"customers": [{"name": f"部删{i}"} for i in range(2)]})
           .json()["data"]["created_customers"]]
    missing = max(ids) + 100000
    resp = admin.post(DELETE, json={"ids": ids + [missing]})
    assert resp.status_code == 207
    assert resp.json() == {"success": True, "code": 2070, "message": "部分操作成功", "data": {
        "deleted_count": 2, "failed_count": 1, "deleted_ids": ids,
        "failed_ids": [{"id": missing, "error": "客户不存在或已被删除"}]}}


def test_bulk_delete_seed_error_without_ids(admin):
    resp = admin.post(DELETE, json={"ids": []})
    assert resp.status_code == 400 and resp.json() == {
        "success": False, "code": 4000, "message": "请求参数错误", "errors": {"ids": ["必须提供至少一个客户ID"]}}


# --- concurrency, idempotency, dry run ----------------------------------------------------

def test_parallel_bulk_creates_racing_for_the_same_names_create_each_name_once(client_for, factory):
    shared = [f"抢注{i}" for i in range(5)]
    requests_ = 8

    def send(n: int):
        api = client_for(roles=["admin"], factories=[factory])
        batch = [{"name": name} for name in shared] + [{"name": f"独占{n}"}]
        return api.post(CREATE, json={"customers": batch}, timeout=60)

    with ThreadPoolExecutor(requests_) as pool:
        responses = list(pool.map(send, range(requests_)))
    created = [c["name"] for r in responses for c in r.json()["data"]["created_customers"]]
    failures = [f for r in responses for f in r.json()["data"]["failed_customers"]]
    assert sorted(n for n in created if n.startswith("抢注")) == shared          # each name once
    assert sorted(n for n in created if n.startswith("独占")) == [f"独占{n}" for n in range(requests_)]
    assert len(failures) == len(shared) * (requests_ - 1)
    assert all(f["errors"] == {"name": ["客户名称已存在"]} for f in failures)   # losers: duplicates
    assert sorted(r.status_code for r in responses) == sorted([201] + [207] * (requests_ - 1))
    api = client_for(roles=["admin"], factories=[factory])
    assert names_in(api, "抢注") == shared


def test_same_idempotency_key_and_body_replays_the_first_response(admin):
    key = f"bulk-{uuid.uuid4().hex}"
    body = {"customers": [{"name": "幂等A"}, {"name": "幂等B"}]}
    first = admin.post(CREATE, json=body, headers={"Idempotency-Key": key})
    again = admin.post(CREATE, json=body, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert names_in(admin, "幂等") == ["幂等A", "幂等B"]


def test_same_idempotency_key_with_another_body_is_422(admin):
    key = f"bulk-{uuid.uuid4().hex}"
    assert admin.post(CREATE, json={"customers": [{"name": "键一"}]}, headers={"Idempotency-Key": key}).status_code == 201
    reused = admin.post(CREATE, json={"customers": [{"name": "键二"}]}, headers={"Idempotency-Key": key})
    assert reused.status_code == 422
    assert reused.json()["code"] == 4220 and reused.json()["success"] is False
    assert names_in(admin, "键") == ["键一"]


def test_idempotent_replay_covers_partial_results_and_deletes(admin):
    ids = [c["id"] for c in admin.post(CREATE, json={"customers": [{"name": "重放删"}]}).json()["data"]["created_customers"]]
    key = f"del-{uuid.uuid4().hex}"
    first = admin.post(DELETE, json={"ids": ids + [ids[0] + 99999]}, headers={"Idempotency-Key": key})
    again = admin.post(DELETE, json={"ids": ids + [ids[0] + 99999]}, headers={"Idempotency-Key": key})
    assert first.status_code == again.status_code == 207 and first.json() == again.json()


def test_dry_run_reports_what_would_happen_and_writes_nothing(admin):
    admin.post(CREATE, json={"customers": [{"name": "演练已有"}]})
    batch = {"customers": [{"name": "演练已有"}, {"name": "演练新增", "type": "company"}]}
    dry = admin.post(CREATE, params={"dry_run": "true"}, json=batch)
    # A dry run succeeded whatever the records would do: 200, what would happen, no ids.
    assert dry.status_code == 200 and dry.json()["code"] == 2000 and dry.json()["data"]["dry_run"] is True
    assert all("id" not in c for c in dry.json()["data"]["created_customers"])
    assert names_in(admin, "演练") == ["演练已有"]
    real = admin.post(CREATE, json=batch)
    assert real.status_code == 207
    volatile = ("id", "customer_code", "created_at", "updated_at")
    same = lambda d: ([{k: v for k, v in c.items() if k not in volatile} for c in d["created_customers"]],  # noqa: E731
                      d["failed_customers"], d["created_count"], d["failed_count"])
    assert same(dry.json()["data"]) == same(real.json()["data"])
    assert names_in(admin, "演练") == ["演练已有", "演练新增"]
