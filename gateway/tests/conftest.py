"""gateway tests. Unit tests (``test_*_rules.py``) touch no I/O; the others run real
processes under gunicorn on free ports: the gateway, customer-service on a SQLite file, and
two fake upstreams (``fake_upstream.py``) playing viewing-service and analytics-service.
sync-worker's URL is a free port nobody listens on."""
from __future__ import annotations

import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest

# pytest's importlib mode names this file "gateway.tests.conftest" (relative to the repo
# root) and registers the project directory gateway/ as an empty namespace package called
# "gateway", which hides the real package. Put the real one (gateway/src/gateway) back.
if getattr(sys.modules.get("gateway"), "__file__", None) is None:
    sys.modules.pop("gateway", None)
    importlib.import_module("gateway")

from crm_testing import Process, base_env, free_port, gateway_argv, gunicorn_argv, prometheus_dir, rmtree

HERE = Path(__file__).resolve().parent
MAX_REQUEST_BYTES = 8 * 1024 * 1024
READ_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0


class Running:
    """Processes of one test set-up, their URLs and logs."""

    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.procs: dict[str, Process] = {}
        self.urls: dict[str, str] = {}

    def launch(self, name: str, app: str | None, env: dict[str, str], *, workers: int = 1, threads: int = 8) -> None:
        """gunicorn serving ``app``, or the gateway itself (``app`` None)."""
        port = free_port()
        self.urls[name] = f"http://127.0.0.1:{port}"
        argv = gateway_argv(port, workers) if app is None else gunicorn_argv(app, port, workers=workers, threads=threads)
        self.procs[name] = Process(name, argv, env, log_dir=self.log_dir).start()

    def wait_ready(self, timeout: float = 60) -> None:
        for name, proc in self.procs.items():
            proc.ready_url = self.urls[name] + "/healthz"
            proc.wait_ready(timeout)

    def log_lines(self, name: str) -> list[dict]:
        lines = []
        for line in self.procs[name].log_text().splitlines():
            if line.startswith("{"):
                try:
                    lines.append(json.loads(line))
                except ValueError:
                    pass
        return lines

    def worker_pids(self, name: str) -> list[int]:
        """gunicorn's worker processes (children of the master)."""
        master = self.procs[name].proc.pid
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            if children:
                return [int(pid) for pid in children]
            time.sleep(0.1)
        raise RuntimeError(f"{name} has no workers")

    def stop(self) -> None:
        for proc in reversed(list(self.procs.values())):
            proc.stop()


def gateway_env(upstreams: dict[str, str], **extra: str) -> dict[str, str]:
    prom = Path(prometheus_dir())
    settings = {f"{svc.upper()}_SERVICE_URL": url for svc, url in upstreams.items()}
    settings.update(UPSTREAM_READ_TIMEOUT=str(READ_TIMEOUT), UPSTREAM_CONNECT_TIMEOUT=str(CONNECT_TIMEOUT),
                    MAX_REQUEST_BYTES=str(MAX_REQUEST_BYTES), PROMETHEUS_MULTIPROC_DIR=str(prom))
    settings.update(extra)  # a test may point the gateway elsewhere
    return base_env(**settings)


@pytest.fixture(scope="session")
def upstreams():
    """customer-service (real, SQLite) and the two fakes; sync-worker is a dead port."""
    from crm_common.migrations import upgrade_head
    from customer_service.cli import SERVICE_DIR

    work = Path(tempfile.mkdtemp(prefix="gateway-tests-"))
    db_url = f"sqlite:///{work / 'customer.db'}"
    running = Running(work)
    try:
        running.launch("fake-viewing", "fake_upstream:create_app()",
                       base_env(FAKE_NAME="viewing-service", PYTHONPATH=str(HERE)))
        running.launch("fake-analytics", "fake_upstream:create_app()",
                       base_env(FAKE_NAME="analytics-service", PYTHONPATH=str(HERE)))
        upgrade_head(SERVICE_DIR, db_url)
        running.launch("customer", "customer_service.app:create_app()",
                       base_env(CUSTOMER_DATABASE_URL=db_url, CRM_HOME=str(work)), threads=4)
        running.wait_ready()
        running.urls["dead"] = f"http://127.0.0.1:{free_port()}"
        yield running
    finally:
        running.stop()
        rmtree(work)


@pytest.fixture
def roomy_fake(upstreams):
    """A fake viewing-service with threads enough to hold many slow requests at once."""
    running = Running(upstreams.log_dir)
    running.launch("fake-roomy", "fake_upstream:create_app()",
                   base_env(FAKE_NAME="viewing-service", PYTHONPATH=str(HERE)), threads=64)
    try:
        running.wait_ready()
        yield running.urls["fake-roomy"]
    finally:
        running.stop()


@pytest.fixture(scope="session")
def upstream_urls(upstreams) -> dict[str, str]:
    return {"customer": upstreams.urls["customer"], "viewing": upstreams.urls["fake-viewing"],
            "analytics": upstreams.urls["fake-analytics"], "sync": upstreams.urls["dead"],
            "webhook": upstreams.urls["dead"]}


@pytest.fixture(scope="session")
def start_gateway(upstreams, upstream_urls):
    """``start_gateway(name, workers=1, **env)``: a gateway under gunicorn in front of the
    upstreams, stopped at the end of the session."""
    started: list[Running] = []

    def start(name: str, workers: int = 1, **extra_env: str) -> Running:
        running = Running(upstreams.log_dir)
        metrics_port = free_port()
        env = gateway_env(upstream_urls, METRICS_PORT=str(metrics_port), **extra_env)
        running.launch(name, None, env, workers=workers)
        running.name, running.url, running.env = name, running.urls[name], env
        running.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        started.append(running)
        running.wait_ready()
        return running

    yield start
    for running in started:
        running.stop()
        rmtree(running.env["PROMETHEUS_MULTIPROC_DIR"])


@pytest.fixture(scope="session")
def gw(start_gateway):
    """The gateway with one worker (so that in-memory limits and RSS are of one process),
    default rate limits, 1 s read timeout, 8 MiB request limit."""
    return start_gateway("gateway")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Redis for the shared-limit tests (db 5 unless TEST_REDIS_URL says otherwise).
    `make test` starts Redis, so its absence is a failure, never a skip."""
    import redis
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/5")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.fail(f"Redis not reachable at {url}: run scripts/ensure-services.sh")
    return url
