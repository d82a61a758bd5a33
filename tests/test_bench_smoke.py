"""The benchmark harness (bench/common.py) on fixed inputs: fast, no stack, so that
`make bench` cannot silently start printing wrong percentiles or broken tables."""
from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("bench_common", ROOT / "bench" / "common.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def test_percentiles_are_nearest_rank(common):
    samples = [float(v) for v in range(100, 0, -1)]  # 100 .. 1, unsorted on purpose
    assert common.percentile(samples, 50) == 50.0
    assert common.percentile(samples, 95) == 95.0
    assert common.percentile(samples, 99) == 99.0
    assert common.percentile(samples, 100) == 100.0
    assert common.percentile([7.0], 99) == 7.0
    assert common.percentile([1.0, 2.0, 3.0], 50) == 2.0
    assert common.percentile([], 50) is None


def test_summary_and_ratio_of_fixed_latencies(common):
    summary = common.summarize([10.0, 20.0, 30.0, 40.0])
    assert summary == {"count": 4, "p50_ms": 20.0, "p95_ms": 40.0, "p99_ms": 40.0, "mean_ms": 25.0, "max_ms": 40.0}
    assert common.summarize([])["p50_ms"] is None
    assert common.ratio(30.0, 10.0) == 3.0
    assert common.ratio(None, 10.0) is None and common.ratio(1.0, 0) is None


def test_table_aligns_columns_and_marks_missing_values(common):
    table = common.format_table(["row", "req/s", "p50 ms"],
                                [["gateway", 1234.5, 2.25], ["bulk create", None, "not available"]])
    assert table.splitlines() == [
        "| row         | req/s |        p50 ms |",
        "|:------------|------:|--------------:|",
        "| gateway     | 1,234 |           2.2 |",
        "| bulk create |   n/a | not available |",
    ]


def test_load_run_counts_operations_and_errors(common):
    calls = {"n": 0}

    def make(_index):
        def op():
            calls["n"] += 1
            if calls["n"] % 5 == 0:
                raise common.OperationFailed("every fifth fails")
        return op

    result = common.run_load(make, clients=2, seconds=0.2, warmup=0.0, max_operations=40)
    assert 36 <= result.ok <= 41 and result.errors >= 1
    assert result.first_error.startswith("OperationFailed")
    assert result.as_dict()["p50_ms"] is not None


def test_rss_of_this_process_tree_and_results_files(common, tmp_path):
    assert common.rss_kib(os.getpid()) > 0
    assert os.getpid() in common.process_tree(os.getpid())
    sampler = common.RssSampler(lambda: {"me": os.getpid()}, interval=0.01)
    sampler.sample()
    assert sampler.stop()["me"]["peak_rss_mib"] > 0
    stamped, latest = common.write_results({"rows": [1]}, tmp_path, now=dt.datetime(2026, 1, 2, 3, 4, 5))
    assert stamped.name == "run-20260102T030405Z.json"
    assert json.loads(latest.read_text()) == {"rows": [1]}


def test_cpu_meter_counts_this_process(common):
    meter = common.CpuMeter({"me": os.getpid()}).start()
    spent = common.time.process_time() + 0.05  # CPU, not wall time: the machine may be busy
    while common.time.process_time() < spent:
        pass
    assert meter.per(1)["me"] > 0
    assert meter.per(0)["me"] is None
