"""Issue 12: the habits that keep the suite from failing one time in ten, checked on
every test file (an AST walk, no test is run):

- no assertion on which worker or thread served something (``worker_pids``,
  ``get_ident``, ``current_thread``): the kernel decides that, not the code;
- no unbounded wait: a ``while True`` loop that sleeps must look at a deadline (poll
  with a bound, e.g. ``crm_testing.wait_for``), and a sleep longer than 2 s needs a
  ``# sleep-ok: <why>`` comment on its line (a fixed sleep as synchronisation is a race
  waiting to happen).

Every test also runs under pytest-timeout (pytest.ini), so a wait that hangs fails with a
traceback instead of stalling CI."""
from __future__ import annotations

import ast
from pathlib import Path

from crm_testing import repo_root

WHO_SERVED = {"worker_pids", "get_ident", "current_thread"}
BOUNDS = {"monotonic", "deadline", "perf_counter", "timeout"}


def _test_files() -> list[Path]:
    root = repo_root()
    return sorted(p for p in root.rglob("test_*.py")
                  if ".venv" not in p.parts and "node_modules" not in p.parts and p.name != Path(__file__).name)


def names_in(node: ast.AST) -> set[str]:
    found = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name):
            found.add(sub.id)
        elif isinstance(sub, ast.Attribute):
            found.add(sub.attr)
    return found


def violations(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    out = []
    for node in ast.walk(ast.parse(source, str(path))):
        where = f"{path.relative_to(repo_root())}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Assert) and names_in(node.test) & WHO_SERVED:
            out.append(f"{where}: asserts on which worker/thread served ({sorted(names_in(node.test) & WHO_SERVED)})")
        if (isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value is True
                and "sleep" in names_in(node) and not names_in(node) & BOUNDS):
            out.append(f"{where}: `while True` that sleeps without a deadline: poll with a bound instead")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "sleep"
                and node.args and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, (int, float)) and node.args[0].value > 2
                and "sleep-ok:" not in lines[node.lineno - 1]):
            out.append(f"{where}: sleep({node.args[0].value}) without a `# sleep-ok: <why>` comment")
    return out


def test_no_test_asserts_on_scheduling_or_waits_without_a_bound():
    found = [v for path in _test_files() for v in violations(path)]
    assert not found, "\n".join(found)


def test_the_rule_catches_what_it_is_meant_to(tmp_path, monkeypatch):
    bad = tmp_path / "test_bad.py"
    bad.write_text("import os, time\n"
                   "def test_x(gw):\n"
                   "    assert set(gw.worker_pids('g')) <= {1, 2}\n"
                   "    while True:\n"
                   "        time.sleep(5)\n")
    monkeypatch.setattr(f"{__name__}.repo_root", lambda: tmp_path)
    assert len(violations(bad)) == 3


def test_ports_for_test_processes_are_never_handed_out_twice_nor_from_the_ephemeral_range(monkeypatch):
    """A stopped worker restarts on its old METRICS_PORT: that port must not have gone to
    another process meanwhile, neither by a second pick (``bind(0)`` hands ports out again)
    nor to an outgoing connection's local port (the kernel takes those from the ephemeral
    range). A CI run lost 221 tests to an analytics consumer dying with EADDRINUSE."""
    import socket

    from crm_testing import ports

    low, high = ports.ephemeral_range()
    picked = [ports.free_port() for _ in range(300)]
    assert len(set(picked)) == len(picked)
    assert all(p in ports.candidate_range() and not low <= p <= high for p in picked)
    # Its process gone (the port free again) and the cursor back on it, as after a wrap
    # around the range: the port is still not handed out.
    start = ports.candidate_range().start
    monkeypatch.setattr(ports, "_cursor", picked[0] - start)
    again = ports.free_port()
    assert again != picked[0]
    monkeypatch.setattr(ports, "_cursor", picked[0] - start)
    base = ports.free_port_block((1, 5, 80))
    assert not {base + 1, base + 5, base + 80} & (set(picked) | {again})
    # A port somebody else holds (listening or not) does not count as free.
    held = ports.free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", held))
        assert not ports.bindable(held)
    assert ports.bindable(held)
