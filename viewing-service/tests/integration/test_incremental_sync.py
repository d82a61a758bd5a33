"""Incremental sync of viewing records through the external surface (CONTRACT §4, issue 16):
``GET /api/external/viewing-records?updated_since=&cursor=&pageSize=``, keyset pages in
(updated_at, id) order, exact while others write, served by an index."""
from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa

from crm_testing import wait_for
from viewing_service.entrypoints.deps import core

from ..conftest import customer_event

URL = "/api/external/viewing-records"
SINCE = "2000-01-01T00:00:00Z"
FILL = """
INSERT INTO viewing_records (factory_id, user_id, identity_key, customer_id, viewing_time, property_name,
    room_type, viewer_name, viewing_status, commission, business_type, external_property_enriched, version,
    created_at, updated_at)
SELECT :f || (g % :tenants), 'u' || g, 'name:p' || g, :c0 + (g % 97), now(), 'p' || g, 'one_bedroom', 'external',
    1, 0, 'whole_rent', false, 1, now(), now() - (g || ' seconds')::interval
FROM generate_series(1, :n) g
"""


def walk(client, headers, **params) -> tuple[list[dict], int]:
    items, pages, cursor = [], 0, None
    while True:
        resp = client.get(URL, query_string={**params, **({"cursor": cursor} if cursor else {})}, headers=headers)
        assert resp.status_code == 200, resp.get_json()
        data = resp.get_json()["data"]
        assert set(data) == {"data", "pageSize", "next_cursor"}
        items += data["data"]
        pages += 1
        cursor = data["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 500, "the walk never ended"


def test_changes_come_oldest_first_in_the_seed_record_shape_and_only_of_the_callers_domains(
        client, headers_for, factory, consumer):
    everything = headers_for(factories=[factory])
    made = [client.post(URL, json={"userId": f"inc-{i}", "property_name": "万科城", "commission": i},
                        headers=everything).get_json()["data"] for i in range(4)]
    client.post(URL, json={"userId": "inc-0", "property_name": "万科城", "commission": 99}, headers=everything)
    items, pages = walk(client, everything, updated_since=SINCE, pageSize=2)
    assert [r["id"] for r in items] == [m["viewing_record_id"] for m in made[1:] + made[:1]] and pages == 2
    assert items[-1]["commission"] == 99 and items[-1]["userId"] == "inc-0" and "houseTypeId" in items[-1]
    for i, domain in enumerate(("D1", "D2", "D1", "D2")):
        consumer.apply(customer_event(made[i]["customer_id"], factory, domain, 1, "customer.created"))
    d1, _ = walk(client, headers_for(factories=[factory], domains=["D1"]), updated_since=SINCE)
    assert {r["userId"] for r in d1} == {"inc-0", "inc-2"}
    assert walk(client, headers_for(factories=[factory], domains=[]))[0] == []
    bad = client.get(URL, query_string={"cursor": "nope"}, headers=everything)
    assert bad.status_code == 400 and bad.get_json()["error"] == "VALIDATION_ERROR" and "cursor" in bad.get_json()["errors"]
    assert client.get(URL, query_string={"pageSize": 500}, headers=everything).get_json()["data"]["pageSize"] == 100


@pytest.mark.parametrize("domains", [["*"], ["D1"]])
def test_a_page_reads_the_index_in_order_and_sorts_nothing(app, client, headers_for, domains):
    engine, tenant = core(app).engine, "F-VFILL-"
    with engine.begin() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM viewing_records WHERE factory_id LIKE :f LIMIT 1"),
                            {"f": tenant + "%"}).first():
            conn.execute(sa.text(FILL), {"f": tenant, "tenants": 40, "c0": 9_000_000, "n": 20000})
            conn.execute(sa.text(
                "INSERT INTO customer_domains (customer_id, factory_id, business_domain, version, updated_at) "
                "SELECT 9000000 + g, 'x', CASE WHEN g % 2 = 0 THEN 'D1' ELSE 'D2' END, 1, now() "
                "FROM generate_series(0, 96) g ON CONFLICT DO NOTHING"))
        conn.execute(sa.text("ANALYZE viewing_records"))
        conn.execute(sa.text("ANALYZE customer_domains"))
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM viewing_records" in statement and "ORDER BY" in statement:
            statements.append((statement, parameters))

    sa.event.listen(engine, "before_cursor_execute", capture)
    try:
        headers = headers_for(factories=[tenant + "7"], domains=domains)
        first = client.get(URL, query_string={"updated_since": SINCE, "pageSize": 50}, headers=headers)
        data = first.get_json()["data"]
        assert len(data["data"]) == 50 and data["next_cursor"]
        client.get(URL, query_string={"cursor": data["next_cursor"], "pageSize": 50}, headers=headers)
    finally:
        sa.event.remove(engine, "before_cursor_execute", capture)
    assert len(statements) == 2
    for statement, parameters in statements:
        with engine.connect() as conn:
            plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
        print(f"\n{plan}")
        assert "Index Scan using ix_viewing_records_factory_id_updated_at_id on viewing_records" in plan, plan
        assert "Sort" not in plan and "Seq Scan on viewing_records" not in plan, plan


def test_paging_while_others_write_misses_nothing_and_repeats_nothing(app, client, headers_for, factory):
    """300 records paged 20 at a time while another thread records new viewings and updates
    old ones through the API: the pages plus a final pass from where the walk ended hold
    every record's latest version exactly once."""
    headers = headers_for(factories=[factory])
    customer_id = client.post(URL, json={"userId": "inc-writer", "property_name": "起点"},
                              headers=headers).get_json()["data"]["customer_id"]
    engine = core(app).engine
    with engine.begin() as conn:
        conn.execute(sa.text(FILL.replace(":f || (g % :tenants)", ":f").replace(":c0 + (g % 97)", ":c0")),
                     {"f": factory, "c0": customer_id, "n": 300})
    stop, writes, failures = threading.Event(), [], []

    def writer():
        rng = random.Random(16)
        with app.test_client() as own:
            while not stop.is_set():
                i = rng.randrange(400)  # 300-399: new records
                body = {"userId": f"u{i}" if i < 300 else "inc-writer", "property_name": f"p{i}",
                        "commission": rng.randrange(1, 10_000)}
                resp = own.post(URL, json=body, headers=headers)
                (writes if resp.status_code == 200 else failures).append(resp.status_code)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert wait_for(lambda: writes, timeout=30)  # the walk below runs while it writes
        walked, pages = walk(client, headers, updated_since=SINCE, pageSize=20)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures and len(writes) >= 5, (failures, len(writes))
    seen = [(r["id"], r["updated_at"], r["commission"]) for r in walked]
    assert len({s[0:2] for s in seen}) == len(seen), "the walk repeated a record at the same change"
    keys = [(r["updated_at"], r["id"]) for r in walked]
    assert keys == sorted(keys)
    boundary = walked[-1]["updated_at"]
    final, _ = walk(client, headers, updated_since=boundary, pageSize=20)
    repeated = [r for r in final if (r["id"], r["updated_at"]) in {s[0:2] for s in seen}]
    assert all(r["updated_at"] == boundary for r in repeated)
    held = {r["id"]: (r["updated_at"], r["commission"]) for r in walked + [r for r in final if r not in repeated]}
    with engine.connect() as conn:
        latest = {row.id: row.version for row in conn.execute(
            sa.text("SELECT id, version FROM viewing_records WHERE factory_id = :f"), {"f": factory})}
        commissions = dict(conn.execute(sa.text(
            "SELECT id, commission FROM viewing_records WHERE factory_id = :f"), {"f": factory}).all())
    assert set(held) == set(latest)
    assert {rid: float(c) for rid, (_, c) in held.items()} == {rid: float(c) for rid, c in commissions.items()}
    print(f"\nviewing keyset walk: {len(walked)} items in {pages} pages while {len(writes)} writes landed; "
          f"final pass {len(final)} ({len(repeated)} repeated at the boundary)")
