"""`make run`'s zero-configuration default: each service keeps its data in SQLite under var/."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests

from crm_testing import Process, base_env, free_port, make_token


def test_customer_service_runs_on_its_sqlite_default(tmp_path):
    env = base_env(CRM_HOME=str(tmp_path))
    cli = str(Path(sys.executable).parent / "customer-service")
    subprocess.run([cli, "migrate"], env=env, check=True, timeout=120)
    assert (tmp_path / "var" / "customer.db").exists()
    port = free_port()
    proc = Process("customer-sqlite", [cli, "serve", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
                   env, ready_url=f"http://127.0.0.1:{port}/readyz", log_dir=tmp_path).start(wait=60)
    try:
        headers = {"Authorization": f"Bearer {make_token(factories=['F001'])}"}
        created = requests.post(f"http://127.0.0.1:{port}/api/v1/customers", headers=headers, timeout=10,
                                json={"customer": {"name": "SQLite 客户"}})
        assert created.status_code == 201, created.text
        listed = requests.get(f"http://127.0.0.1:{port}/api/v1/customers", headers=headers, timeout=10)
        assert listed.json()["data"]["total"] == 1
    finally:
        proc.stop()
