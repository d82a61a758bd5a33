"""Issue 16, customer-service's lists, through the gateway: ``updated_since`` and keyset
``cursor`` paging on /api/v1/customers (and companies, customer groups) stay exact while
others write — a client that follows the cursor misses no change and sees no version twice —
and soft-deleted records come as ``deleted: true``."""
from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from collections import Counter

import pytest

pytestmark = pytest.mark.system

EPOCH = "2000-01-01T00:00:00Z"


def walk(api, path: str, *, updated_since: str, page_size: int = 50, pages: list | None = None) -> list[dict]:
    """Follow ``next_cursor`` from ``updated_since`` to the last page; every item seen."""
    seen, params = [], {"updated_since": updated_since, "page_size": page_size}
    while True:
        resp = api.get(path, params=params)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        assert set(data) == {"items", "page_size", "next_cursor"}
        seen.extend(data["items"])
        if pages is not None:
            pages.append(len(data["items"]))
        if data["next_cursor"] is None:
            return seen
        params = {"cursor": data["next_cursor"], "page_size": page_size}


def just_after(stamp: str) -> str:
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) + dt.timedelta(microseconds=1)
    return moment.isoformat().replace("+00:00", "Z")


def test_a_cursor_walk_during_writes_plus_an_updated_since_pass_holds_every_latest_version_once(client_for,
                                                                                                factory):
    api = client_for(factories=[factory])
    for batch in range(10):
        resp = api.post("/api/v1/customers/bulk-create/",
                        json={"customers": [{"name": f"同步{batch}-{n}"} for n in range(100)]})
        assert resp.status_code == 201, resp.text
    ids = [c["id"] for c in walk(api, "/api/v1/customers", updated_since=EPOCH, page_size=100)]
    assert len(ids) == 1000

    stop, writes = threading.Event(), Counter()
    writer_api = client_for(factories=[factory], sub="u-writer")

    def write():
        rng = random.Random(16)
        while not stop.is_set():
            chosen = rng.sample(ids, 10)
            writer_api.post("/api/v1/customers/bulk-update/", json={"customers": [
                {"id": cid, "notes": uuid.uuid4().hex} for cid in chosen]})
            writes["updates"] += 10
            writer_api.post("/api/v1/customers/bulk-create/", json={"customers": [
                {"name": f"新增{uuid.uuid4().hex[:10]}"} for _ in range(3)]})
            writes["creates"] += 3

    writer = threading.Thread(target=write)
    writer.start()
    pages: list[int] = []
    try:
        during = walk(api, "/api/v1/customers", updated_since=EPOCH, page_size=50, pages=pages)
        writes_during = sum(writes.values())
    finally:
        stop.set()
        writer.join(60)
    assert len(pages) >= 20 and max(pages) == 50
    assert writes_during > 0, "the writer wrote nothing while the pages were read"
    after = walk(api, "/api/v1/customers", updated_since=just_after(during[-1]["updated_at"]), page_size=50)

    union = [(c["id"], c["version"]) for c in during + after]
    assert not [pair for pair, n in Counter(union).items() if n > 1], "a version seen twice"
    truth = {c["id"]: c["version"] for c in walk(api, "/api/v1/customers", updated_since=EPOCH, page_size=100)}
    assert len(truth) >= 1000 + writes["creates"] - 3  # the last create may have landed after stop was set
    latest = {}
    for cid, version in union:
        latest[cid] = max(version, latest.get(cid, 0))
    assert latest == truth  # every customer, in its latest version
    assert all(Counter(union)[(cid, version)] == 1 for cid, version in truth.items())


def test_incremental_sync_lists_deleted_customers_as_tombstones_in_change_order(client_for, factory):
    api = client_for(factories=[factory])
    first = api.post("/api/v1/customers", json={"customer": {"name": "先"}}).json()["data"]
    second = api.post("/api/v1/customers", json={"customer": {"name": "后"}}).json()["data"]
    assert api.delete(f"/api/v1/customers/{first['id']}").status_code == 200
    items = walk(api, "/api/v1/customers", updated_since=first["created_at"])
    assert [(c["id"], c["deleted"]) for c in items] == [(second["id"], False), (first["id"], True)]
    assert api.get("/api/v1/customers").json()["data"]["total"] == 1  # offset pages: live customers only
    assert "next_cursor" not in api.get("/api/v1/customers").json()["data"]
    bad = api.get("/api/v1/customers", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in bad.json()["errors"]


def test_companies_and_groups_sync_incrementally_too(client_for, factory):
    api = client_for(factories=[factory])
    start = api.post("/api/v1/companies", json={"company_code": "S-1", "name": "甲公司"}).json()["data"]["updated_at"]
    api.post("/api/v1/companies", json={"company_code": "S-2", "name": "乙公司"})
    api.post("/api/v1/companies", json={"company_code": "S-1", "name": "甲公司（改名）"})
    companies = walk(api, "/api/v1/companies", updated_since=start, page_size=1)
    assert [(c["company_code"], c["name"], c["deleted"]) for c in companies] == [
        ("S-2", "乙公司", False), ("S-1", "甲公司（改名）", False)]
    group = api.post("/api/v1/customer-groups", json={"name": "同步组"}).json()["data"]
    customer = api.post("/api/v1/customers", json={"customer": {"name": "组员"}}).json()["data"]
    assert api.put(f"/api/v1/customer-groups/{group['id']}/members", json={"customer_ids": [customer["id"]]}) \
        .status_code == 200
    groups = walk(api, "/api/v1/customer-groups", updated_since=group["created_at"])
    assert [(g["id"], g["version"], g["member_count"], g["deleted"]) for g in groups] == [(group["id"], 2, 1, False)]
