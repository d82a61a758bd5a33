"""The short soak (issue 20): `scripts/soak.py` for 150 s with a fixed seed — the whole set
on a private PostgreSQL and RabbitMQ (never the shared ones), mixed load through the
gateway, at least 5 broker restarts, 2 PostgreSQL restarts (fast and immediate), 10 SIGKILLs,
pauses and network faults — must end with nothing lost, nothing applied twice, no valid
event dead-lettered, every read model converged and the analytics read model equal to a
rebuild. The long one is `make soak` by hand (README "Soak")."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from crm_testing import repo_root

pytestmark = [pytest.mark.system, pytest.mark.slow]

SHORT_SOAK = {"SOAK_SECONDS": "150", "SOAK_SEED": "20", "SOAK_BROKER_RESTARTS": "5", "SOAK_PG_RESTARTS": "2",
              "SOAK_KILLS": "10", "SOAK_PAUSES": "3", "SOAK_NET_FAULTS": "4", "SOAK_SETTLE_TIMEOUT": "240"}


def test_a_short_soak_under_every_kind_of_fault_loses_nothing_and_converges():
    env = {k: v for k, v in os.environ.items() if not k.startswith("SOAK_")}
    env.update(SHORT_SOAK)
    done = subprocess.run([sys.executable, str(repo_root() / "scripts" / "soak.py")], env=env,
                          capture_output=True, text=True, timeout=840)
    print(done.stdout[-6000:])
    lines = [line for line in done.stdout.splitlines() if line.startswith("SOAK_RESULT ")]
    assert lines, f"no result line (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    result = json.loads(lines[-1].split(" ", 1)[1])
    faults = result["faults"]
    assert faults.get("broker_restart", 0) >= 5, faults
    assert faults.get("pg_restart_fast", 0) + faults.get("pg_restart_immediate", 0) >= 2, faults
    assert faults.get("sigkill", 0) >= 10, faults
    assert result["fault_errors"] == []
    assert result["acked"] > 300
    assert (result["lost"], result["duplicated"], result["dead_lettered_valid"]) == (0, 0, 0)
    assert result["dead_lettered_poison"] == result["poison_expected"] > 0
    assert not any(result["writes"].values()) and result["projections"] == 0, result
    assert not any(result["analytics_diff"].values()), result["analytics_diff"]
    assert result["ok"] and done.returncode == 0
