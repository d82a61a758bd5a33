"""Issue 13: the gateway never answers 502 for a request that never reached the service.
After the gateway's upstream connections sat idle, 20 concurrent DELETEs all succeed (the
mechanism itself, idle-bounded pooling and the retry of idempotent bodyless requests, is
proven deterministically in gateway/tests/test_proxy.py)."""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor


def test_twenty_concurrent_deletes_after_six_seconds_idle_all_succeed(stack, client_for, factory):
    admin = client_for(roles=["admin"], factories=[factory])
    ids = []
    for i in range(20):
        created = admin.post("/api/v1/customers", json={"customer": {"name": f"空闲连接 {i}"}})
        assert created.status_code == 201, created.text
        ids.append(created.json()["data"]["id"])
    time.sleep(6)  # sleep-ok: the point of the test is an idle pool (issue 13: after ~5 s idle)
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda cid: admin.delete(f"/api/v1/customers/{cid}").status_code, ids))
    assert statuses == [200] * 20, statuses
