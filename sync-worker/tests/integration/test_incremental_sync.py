"""Incremental sync (CONTRACT §4, issue 16) of projects, contracts and the sync history on
real PostgreSQL: ``updated_since`` + keyset ``cursor`` pages in (updated_at, id) order,
exact while others write, served by an index (no page sorts the table)."""
from __future__ import annotations

import datetime as dt
import random
import threading
import time

import pytest
import sqlalchemy as sa

from crm_testing import wait_for
from sync_worker.entrypoints.deps import core

PATHS = {"projects": "/api/v1/projects", "contracts": "/api/v1/contracts"}


def walk(client, headers, path, **params) -> tuple[list[dict], int]:
    """Every keyset page from ``params`` until ``next_cursor`` is null: (items, pages)."""
    items, pages, cursor = [], 0, None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        resp = client.get(path, query_string=query, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        data = resp.get_json()["data"]
        assert set(data) == {"items", "page_size", "next_cursor"}
        items += data["items"]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 500, "the walk never ended"


def test_pages_are_in_change_order_from_updated_since_inclusive(client, headers_for, factory, consumer,
                                                                 customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    ids = [client.post("/api/v1/projects", json={"name": f"p{i}", "customer_id": customer.id},
                       headers=headers).get_json()["data"]["id"] for i in range(5)]
    client.put(f"/api/v1/projects/{ids[1]}", json={"name": "改过"}, headers=headers)
    items, pages = walk(client, headers, "/api/v1/projects", updated_since="2000-01-01T00:00:00Z", page_size=2)
    assert [p["id"] for p in items] == [ids[0], ids[2], ids[3], ids[4], ids[1]] and pages == 3
    stamps = [dt.datetime.fromisoformat(p["updated_at"].replace("Z", "+00:00")) for p in items]
    assert stamps == sorted(stamps)
    since = items[3]["updated_at"]  # inclusive
    assert [p["id"] for p in walk(client, headers, "/api/v1/projects", updated_since=since)[0]] == [ids[4], ids[1]]
    bad = client.get("/api/v1/projects", query_string={"cursor": "not-a-cursor"}, headers=headers)
    assert bad.status_code == 400 and "cursor" in bad.get_json()["errors"]
    assert client.get("/api/v1/projects", query_string={"updated_since": "yesterday"},
                      headers=headers).status_code == 400


def test_the_history_pages_the_same_way(client, headers_for, factory, consumer, customer_events):
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    client.post("/api/v1/projects", json={"name": "p", "customer_id": customer.id}, headers=headers)
    events = [customer.updated(name=f"名{i}") for i in range(3)]
    for event in events:
        consumer.apply(event)
    items, _ = walk(client, headers, "/api/v1/sync/history", updated_since="2000-01-01T00:00:00Z", page_size=2)
    assert [h["event_id"] for h in items] == [e["event_id"] for e in events]


@pytest.mark.parametrize("resource", sorted(PATHS))
def test_a_page_reads_the_index_in_order_and_sorts_nothing(app, client, headers_for, engine, resource):
    """20,000 rows over 40 tenants, statistics up to date: the planner walks the
    (factory_id, updated_at, id) index and stops after one page, in every mode."""
    table = resource
    filler = "F-FILL-" + table
    with engine.begin() as conn:
        if not conn.execute(sa.text(f"SELECT 1 FROM {table} WHERE factory_id LIKE :f LIMIT 1"),
                            {"f": filler + "%"}).first():
            number = "contract_no, " if table == "contracts" else "name, "
            conn.execute(sa.text(
                f"INSERT INTO {table} (factory_id, {number}customer_id, business_domain, created_at, updated_at, "
                f"version) SELECT :f || (g % 40), 'N' || g, g, CASE WHEN (g / 40) % 2 = 0 THEN 'D1' ELSE 'D2' END, "
                f"now(), now() - (g || ' seconds')::interval, 1 FROM generate_series(1, 20000) g"), {"f": filler})
        conn.execute(sa.text(f"ANALYZE {table}"))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if f"FROM {table}" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    served_by = core(app).engine  # what the app's own queries run on
    sa.event.listen(served_by, "before_cursor_execute", capture)
    try:
        for domains in (["*"], ["D1"]):
            headers = {**headers_for(factories=[filler + "7"], domains=domains)}
            first = client.get(PATHS[resource], query_string={"updated_since": "2000-01-01T00:00:00Z",
                                                              "page_size": 50}, headers=headers).get_json()["data"]
            assert len(first["items"]) == 50 and first["next_cursor"]
            client.get(PATHS[resource], query_string={"cursor": first["next_cursor"], "page_size": 50},
                       headers=headers)
    finally:
        sa.event.remove(served_by, "before_cursor_execute", capture)
    assert len(statements) == 4
    for statement, parameters in statements:
        with engine.connect() as conn:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        print(f"\n{plan}")
        assert f"Index Scan using ix_{table}_factory_id_updated_at_id on {table}" in plan, plan
        assert "Sort" not in plan and "Seq Scan" not in plan, plan


def test_paging_while_others_write_misses_nothing_and_repeats_nothing(
        app, client, headers_for, factory, consumer, customer_events, engine):
    """1,000 projects paged 50 at a time while another thread renames and creates projects
    through the API: the pages plus a final ``updated_since`` pass from where the walk ended
    hold every project's latest version exactly once."""
    headers = headers_for(factories=[factory])
    customer = customer_events(factory)
    consumer.apply(customer.created())
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO projects (factory_id, name, customer_id, business_domain, created_at, updated_at, version) "
            "SELECT :f, 'p' || g, :c, 'DEFAULT', now(), now(), 1 FROM generate_series(1, 1000) g"),
            {"f": factory, "c": customer.id})
        ids = [r[0] for r in conn.execute(sa.text("SELECT id FROM projects WHERE factory_id = :f"), {"f": factory})]
    start = "2000-01-01T00:00:00Z"
    stop, writes, failures = threading.Event(), [], []

    def writer():
        rng = random.Random(16)
        with app.test_client() as own:
            while not stop.is_set():
                if rng.random() < 0.2:
                    resp = own.post("/api/v1/projects", json={"name": "新建", "customer_id": customer.id},
                                    headers=headers)
                else:
                    resp = own.put(f"/api/v1/projects/{rng.choice(ids)}", json={"name": f"改{time.monotonic()}"},
                                   headers=headers)
                (writes if resp.status_code in (200, 201) else failures).append(resp.status_code)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert wait_for(lambda: len(writes) >= 5, timeout=30)  # the walk below runs while it writes
        walked, pages = walk(client, headers, "/api/v1/projects", updated_since=start, page_size=50)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not failures and len(writes) > 20, (failures, len(writes))
    seen = [(p["id"], p["version"]) for p in walked]
    assert len(seen) == len(set(seen)), "the walk repeated a row version"
    keys = [(p["updated_at"], p["id"]) for p in walked]
    assert keys == sorted(keys)
    # A client stores where its walk ended and comes back later from there (inclusive).
    boundary = walked[-1]["updated_at"]
    final, _ = walk(client, headers, "/api/v1/projects", updated_since=boundary, page_size=50)
    repeated = [p for p in final if (p["id"], p["version"]) in set(seen)]
    assert all(p["updated_at"] == boundary for p in repeated)  # only the boundary row(s) come again
    held = {}
    for p in walked + [p for p in final if p not in repeated]:
        held[p["id"]] = p["version"]
    with engine.connect() as conn:
        latest = dict(conn.execute(sa.text("SELECT id, version FROM projects WHERE factory_id = :f"), {"f": factory}).all())
    assert held == latest
    latest_seen = [key for key in seen + [(p["id"], p["version"]) for p in final if p not in repeated]
                   if latest[key[0]] == key[1]]
    assert len(latest_seen) == len(latest) == len(set(latest_seen))
    print(f"\nkeyset walk: {len(walked)} items in {pages} pages while {len(writes)} writes landed; "
          f"final pass {len(final)} items ({len(repeated)} repeated at the boundary)")
