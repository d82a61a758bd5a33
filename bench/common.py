"""The harness every row of ``bench/run.py`` uses: closed-loop load from a pool of threads
(each with its own ``requests.Session`` or database connection), percentiles, resident
memory of process trees sampled from /proc, plain-text tables, JSON results.

No service code is imported here, so ``tests/test_bench_smoke.py`` can check it alone."""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

RESULTS_DIR = Path(__file__).resolve().parent / "results"


# --- statistics ---------------------------------------------------------------------------

def percentile(samples: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest sample with at least ``pct`` % of the samples
    at or below it (``None`` for no samples)."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(samples_ms: Sequence[float]) -> dict:
    """Count, p50/p95/p99, mean and max of latencies in milliseconds."""
    if not samples_ms:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "mean_ms": None, "max_ms": None}
    return {"count": len(samples_ms),
            "p50_ms": round(percentile(samples_ms, 50), 2), "p95_ms": round(percentile(samples_ms, 95), 2),
            "p99_ms": round(percentile(samples_ms, 99), 2),
            "mean_ms": round(sum(samples_ms) / len(samples_ms), 2), "max_ms": round(max(samples_ms), 2)}


def ratio(value: float | None, baseline: float | None, digits: int = 2) -> float | None:
    """``value / baseline`` or ``None`` when either is missing or the baseline is 0."""
    if value is None or baseline in (None, 0):
        return None
    return round(value / baseline, digits)


# --- load ---------------------------------------------------------------------------------

class OperationFailed(Exception):
    """An operation of a load run answered something else than expected."""


@dataclass
class LoadResult:
    clients: int
    seconds: float
    ok: int
    errors: int
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    first_error: str | None = None
    warmup_ops: int = 0  # operations that ended outside the measured window

    @property
    def per_second(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def as_dict(self, unit_per_op: int = 1) -> dict:
        out = {"clients": self.clients, "seconds": round(self.seconds, 2), "operations": self.ok,
               "errors": self.errors, "per_second": round(self.per_second * unit_per_op, 1)}
        out.update(summarize(self.latencies_ms))
        out.pop("count")
        if self.first_error:
            out["first_error"] = self.first_error
        return out


def run_load(make_operation: Callable[[int], Callable[[], None]], *, clients: int, seconds: float,
             warmup: float = 0.5, max_operations: int | None = None) -> LoadResult:
    """Closed-loop load: ``clients`` threads, each with its own operation from
    ``make_operation(thread_index)`` (which holds that thread's session or connection),
    calling it back to back for ``warmup`` (not counted) and then ``seconds`` (or until
    ``max_operations`` in all). Operations ending inside the measured window count; one
    raises to count as an error. Throughput = operations / window."""
    lock = threading.Lock()
    latencies: list[float] = []
    counts = {"ok": 0, "errors": 0, "outside": 0}
    first_error: list[str] = []
    ready = threading.Barrier(clients + 1)
    clock: dict[str, float] = {}

    def client(index: int) -> None:
        try:
            operation = make_operation(index)
        finally:
            ready.wait()
        mine: list[float] = []
        ok = errors = outside = 0
        while True:
            began = time.perf_counter()
            if began >= clock["end"]:
                break
            if max_operations is not None:
                with lock:
                    if counts["ok"] + ok >= max_operations:
                        break
            try:
                operation()
                failure = None
            except Exception as exc:  # noqa: BLE001 - counted and reported, never hidden
                failure = f"{type(exc).__name__}: {str(exc)[:300]}"
            ended = time.perf_counter()
            # An operation counts when it ends inside the window (unbiased in steady state).
            if not clock["start"] <= ended <= clock["end"]:
                outside += 1
                continue
            if failure:
                errors += 1
                if not first_error:
                    first_error.append(failure)
            else:
                mine.append((ended - began) * 1000)
                ok += 1
        with lock:
            latencies.extend(mine)
            counts["ok"] += ok
            counts["errors"] += errors
            counts["outside"] += outside

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    clock["start"] = time.perf_counter() + 3600  # nobody measures before every client is ready
    clock["end"] = clock["start"] + 3600
    ready.wait()
    begun = time.perf_counter()
    clock["start"], clock["end"] = begun + warmup, begun + warmup + seconds
    for thread in threads:
        thread.join()
    elapsed = min(time.perf_counter(), clock["end"]) - clock["start"]  # shorter when max_operations ended it
    return LoadResult(clients=clients, seconds=max(elapsed, 1e-9), ok=counts["ok"], errors=counts["errors"],
                      latencies_ms=latencies, first_error=first_error[0] if first_error else None,
                      warmup_ops=counts["outside"])


def http_operation(session, method: str, url: Callable[[], str] | str, *, expect=(200,),
                   json_body: Callable[[], dict] | None = None, params: Callable[[], dict] | None = None,
                   headers: dict | None = None, timeout: float = 60) -> Callable[[], None]:
    """One HTTP call on ``session``; raises ``OperationFailed`` on an unexpected status."""
    def call() -> None:
        target = url() if callable(url) else url
        resp = session.request(method, target, json=json_body() if json_body else None,
                               params=params() if params else None, headers=headers, timeout=timeout)
        resp.content  # read the whole body: it is part of the cost
        if resp.status_code not in expect:
            raise OperationFailed(f"{method} {target} -> {resp.status_code}: {resp.text[:200]}")
    return call


# --- memory -------------------------------------------------------------------------------

def rss_kib(pid: int) -> int:
    """Resident set size of one process in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (gunicorn master and workers)."""
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            pass
    return tree


class RssSampler:
    """Samples the summed VmRSS of each named process tree every ``interval`` seconds in a
    background thread and keeps the peak. ``roots()`` is asked on every sample, so a
    restarted process is followed under its name."""

    def __init__(self, roots: Callable[[], dict[str, int]], interval: float = 0.5):
        self.roots, self.interval = roots, interval
        self.peak_kib: dict[str, int] = {}
        self.processes: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def sample(self) -> None:
        for name, pid in self.roots().items():
            tree = process_tree(pid)
            total = sum(rss_kib(p) for p in tree)
            if total > self.peak_kib.get(name, 0):
                self.peak_kib[name] = total
                self.processes[name] = len(tree)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sample()
            except Exception:  # noqa: BLE001 - a vanished process must not end sampling
                pass
            self._stop.wait(self.interval)

    def start(self) -> "RssSampler":
        self._thread.start()
        return self

    def stop(self) -> dict[str, dict]:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        return {name: {"peak_rss_mib": round(kib / 1024, 1), "processes": self.processes.get(name, 0)}
                for name, kib in sorted(self.peak_kib.items())}


# --- output -------------------------------------------------------------------------------

def fmt(value, digits: int = 1) -> str:
    """A table cell: ``n/a`` for missing, thousands separators for big numbers."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


def format_table(headers: Sequence[str], rows: Iterable[Sequence], title: str | None = None) -> str:
    """A Markdown pipe table (readable as plain text): first column left-aligned, the others
    right-aligned; cells through ``fmt``."""
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [values[0].ljust(widths[0])] + [v.rjust(w) for v, w in zip(values[1:], widths[1:])]
        return "| " + " | ".join(parts) + " |"

    rule = "|" + "|".join([":" + "-" * (widths[0] + 1)] + ["-" * (w + 1) + ":" for w in widths[1:]]) + "|"
    out = [line(list(headers)), rule] + [line(r) for r in cells]
    if title:
        out.insert(0, f"### {title}\n")
    return "\n".join(out)


def write_results(report: dict, directory: Path = RESULTS_DIR, now: dt.datetime | None = None) -> tuple[Path, Path]:
    """Write ``run-<UTC timestamp>.json`` and ``latest.json``; returns both paths."""
    now = now or dt.datetime.now(dt.timezone.utc)
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n"
    stamped = directory / f"run-{now.strftime('%Y%m%dT%H%M%SZ')}.json"
    latest = directory / "latest.json"
    for path in (stamped, latest):
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return stamped, latest


# --- CPU ----------------------------------------------------------------------------------

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its live descendants."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            pass
    return total / _TICKS


class CpuMeter:
    """CPU used by named process trees between ``start()`` and ``per(operations)``: the
    cost of one operation in each process, which contention on a shared machine barely
    changes (unlike wall-clock latency)."""

    def __init__(self, pids: dict[str, int]):
        self.pids = dict(pids)
        self.before: dict[str, float] = {}

    def start(self) -> "CpuMeter":
        self.before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        return self

    def per(self, operations: int) -> dict[str, float | None]:
        if not operations:
            return {name: None for name in self.pids}
        return {name: round((cpu_seconds(pid) - self.before[name]) * 1000 / operations, 2)
                for name, pid in self.pids.items()}
