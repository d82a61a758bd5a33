"""Helpers for integration and system tests on the real PostgreSQL and RabbitMQ:
a database per test run, a RabbitMQ vhost per run, free ports, real processes
(gunicorn, relays, consumers) started and stopped like an operator would.

Fault tests use private infrastructure instead of the shared servers (other test runs use
those at the same time): ``crm_testing.private.PrivatePostgres`` / ``PrivateRabbit`` (a
cluster and a node of the test's own, restartable), ``Stack(pg_admin_url=..., broker=...)``
to run the set on them, and ``crm_testing.proxy.FaultProxy`` for network faults."""
from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

from crm_common.auth import issue_token
from crm_testing.ports import free_port, free_port_block  # noqa: F401 - the tests' one source of ports

TEST_JWT_SECRET = "test-secret-0123456789-0123456789-abcdef"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
AMQP_HOST_URL = os.environ.get("TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "Procfile").exists() and (parent / "libs").is_dir():
            return parent
    raise RuntimeError("cannot find the repository root")


# --- PostgreSQL --------------------------------------------------------------------------

def _admin_engine(admin_url: str | None = None):
    return sa.create_engine(admin_url or PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def create_database(prefix: str = "crm_test", admin_url: str | None = None) -> str:
    """A fresh, empty database (on the shared PostgreSQL, or the one ``admin_url`` names,
    e.g. a ``PrivatePostgres``); returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    engine = _admin_engine(admin_url)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return (admin_url or PG_ADMIN_URL).rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = _admin_engine(url.rsplit("/", 1)[0] + "/postgres")
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


# --- RabbitMQ ----------------------------------------------------------------------------

def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


def create_vhost(prefix: str = "crm_test") -> str:
    """A fresh vhost with full rights for guest; returns the AMQP URL."""
    vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
    return f"{AMQP_HOST_URL}/{urllib.parse.quote(vhost, safe='')}"


def delete_vhost(amqp_url: str) -> None:
    vhost = urllib.parse.unquote(amqp_url.rsplit("/", 1)[1])
    try:
        _rabbitmqctl("delete_vhost", vhost)
    except subprocess.SubprocessError:
        pass


# --- processes ---------------------------------------------------------------------------

def make_token(roles=("admin",), factories=("*",), domains=("*",), sub="u-test", name="测试用户",
               secret: str = TEST_JWT_SECRET, ttl: int = 3600, **extra) -> str:
    return issue_token(secret, sub=sub, name=name, roles=roles, factories=factories, domains=domains,
                       ttl_seconds=ttl, **extra)


def auth_headers(**kw) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(**kw)}"}


class Process:
    """One real OS process (gunicorn, a relay, a consumer) with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None,
                 ready_url: str | None = None, log_dir: Path | None = None):
        self.name, self.argv, self.env, self.cwd, self.ready_url = name, argv, env, cwd, ready_url
        self.log_dir = log_dir or Path(tempfile.mkdtemp(prefix="crm-logs-"))
        self.log_path = self.log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, wait: float = 30.0) -> "Process":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        if self.ready_url:
            self.wait_ready(wait)
        return self

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if requests.get(self.ready_url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (gunicorn master and workers alike)."""
        if self.alive():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def restart(self, wait: float = 30.0) -> "Process":
        self.stop()
        return self.start(wait)

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""


def python_bin() -> str:
    return sys.executable


def gunicorn_argv(app_path: str, port: int, workers: int = 2, threads: int = 4) -> list[str]:
    return [python_bin(), "-m", "gunicorn", "-c", "python:crm_common.gunicorn_conf",
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads), app_path]


def gateway_argv(port: int, workers: int = 2) -> list[str]:
    """The gateway as it runs everywhere (``gateway serve``: its own gunicorn worker class)."""
    return [python_bin(), "-m", "gateway.cli", "serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers)]


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_DATABASE_URL")}
    env.update({"JWT_SECRET": TEST_JWT_SECRET, "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    # Test stacks keep few idle database connections: many of them share one PostgreSQL
    # (max_connections 100) with the other tests of the run.
    env.setdefault("DB_POOL_SIZE", "2")
    env.setdefault("DB_MAX_OVERFLOW", "6")
    env.pop("REDIS_URL", None)
    env.pop("PROPERTY_LOOKUP_URL", None)
    env.update(extra)
    return env


def prometheus_dir() -> str:
    path = tempfile.mkdtemp(prefix="crm-prom-")
    return path


def rmtree(path: str | Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


# --- the whole set ------------------------------------------------------------------------

# name -> how to run it. ``db`` is the service whose database the process uses.
HTTP_SERVICES = {
    "customer": {"app": "customer_service.app:create_app()", "dir": "customer-service", "url_env": "CUSTOMER_SERVICE_URL"},
    "viewing": {"app": "viewing_service.app:create_app()", "dir": "viewing-service", "url_env": "VIEWING_SERVICE_URL"},
    "analytics": {"app": "analytics_service.app:create_app()", "dir": "analytics-service", "url_env": "ANALYTICS_SERVICE_URL"},
    "sync": {"app": "sync_worker.app:create_app()", "dir": "sync-worker", "url_env": "SYNC_SERVICE_URL"},
    "issuer": {"app": "token_issuer.app:create_app()", "dir": "token-issuer", "url_env": "ISSUER_SERVICE_URL"},
    "webhook": {"app": "webhook_service.app:create_app()", "dir": "webhook-service", "url_env": "WEBHOOK_SERVICE_URL"},
}
# Background processes (relays, consumers): name -> (service whose db it uses, CLI argv tail).
WORKERS: dict[str, tuple[str, list[str]]] = {
    "customer-relay": ("customer", ["relay"]),
    "customer-viewing-consumer": ("customer", ["consume"]),
    "viewing-relay": ("viewing", ["relay"]),
    "viewing-consumer": ("viewing", ["consume"]),
    "analytics-consumer": ("analytics", ["consume"]),
    "analytics-relay": ("analytics", ["relay"]),
    "sync-consumer": ("sync", ["consume"]),
    "webhook-consumer": ("webhook", ["consume"]),
    "webhook-deliverer": ("webhook", ["deliver"]),
}


# The first metric a background worker exposes once its loop is connected (its queue declared,
# its first publish round done, its first claim round done): what "ready" means for a worker.
WORKER_READY_SIGNAL = {"consume": "dead_letter_queue_depth", "relay": "outbox_backlog", "deliver": "webhook_backlog"}


class Stack:
    """The running service set for system tests: one fresh PostgreSQL database per
    service, one RabbitMQ vhost, every HTTP service and the gateway under gunicorn, and
    the background workers. ``stack.gateway`` is the base URL that tests drive."""

    def __init__(self, *, services=tuple(HTTP_SERVICES), workers=None, gateway: bool = True,
                 extra_env: dict[str, str] | None = None, web_workers: int = 2,
                 pg_admin_url: str | None = None, broker=None):
        # ``pg_admin_url``/``broker`` (a ``crm_testing.private.PrivatePostgres.admin_url`` and
        # ``PrivateRabbit``) put the stack on private infrastructure that a test may restart.
        self.pg_admin_url, self.broker = pg_admin_url, broker
        self.services = list(services)
        self.worker_names = list(WORKERS if workers is None else workers)
        self.with_gateway = gateway
        self.extra_env = dict(extra_env or {})
        self.web_workers = web_workers
        self.db_urls: dict[str, str] = {}
        self.ports: dict[str, int] = {}
        self.procs: dict[str, Process] = {}
        self.metrics_ports: dict[str, int] = {}  # process -> its METRICS_PORT
        self.amqp_url: str | None = None
        self.log_dir = Path(tempfile.mkdtemp(prefix="crm-stack-"))
        self.prom_dir = prometheus_dir()
        # Given to one process only, as in the deployments (the issuer's key-encryption key).
        self.private_env: dict[str, dict[str, str]] = {
            "issuer": {"ISSUER_KEY_ENCRYPTION_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")},
        }

    # URLs
    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    @property
    def gateway(self) -> str:
        return self.url("gateway")

    def metrics_url(self, name: str) -> str:
        """Where a process serves Prometheus metrics: its own ``METRICS_PORT``."""
        return f"http://127.0.0.1:{self.metrics_ports[name]}/metrics"

    def env(self) -> dict[str, str]:
        extra = {f"{svc.upper()}_DATABASE_URL": url for svc, url in self.db_urls.items()}
        extra.update({HTTP_SERVICES[s]["url_env"]: self.url(s) for s in HTTP_SERVICES if s in self.ports})
        extra["AMQP_URL"] = self.amqp_url or ""
        extra["CRM_HOME"] = str(repo_root())
        if "gateway" in self.ports:
            extra["GATEWAY_PORT"] = str(self.ports["gateway"])
        extra.update(self.extra_env)
        return base_env(**extra)

    def service_env(self, name: str) -> dict[str, str]:
        """What a process of service ``name`` gets: the shared environment plus its own
        secrets (for running its command line, e.g. ``token-issuer rotate-key``)."""
        return {**self.env(), **self.private_env.get(name, {})}

    def start(self) -> "Stack":
        from crm_common.migrations import migrations_home, upgrade_head
        self.amqp_url = self.broker.create_vhost() if self.broker is not None else create_vhost()
        needed = set(self.services) | {WORKERS[w][0] for w in self.worker_names}
        for svc in needed:
            self.db_urls[svc] = create_database(f"crm_{svc}", self.pg_admin_url)
            package = HTTP_SERVICES[svc]["app"].split(".", 1)[0]  # its Alembic files are package data
            upgrade_head(migrations_home(package), self.db_urls[svc])
        for name in self.services + (["gateway"] if self.with_gateway else []):
            self.ports[name] = free_port()
        try:
            for svc in self.services:
                self._start_http(svc, HTTP_SERVICES[svc]["app"])
            if self.with_gateway:
                self._start_http("gateway", None)
            # Consumers' queues exist before any relay publishes, as in production
            # (compose and Kubernetes run `consume --declare-only` first): nothing unrouted.
            for worker in self.worker_names:
                svc, tail = WORKERS[worker]
                if tail[:1] == ["consume"]:
                    cli = Path(sys.executable).parent / HTTP_SERVICES[svc]["dir"]
                    subprocess.run([str(cli), *tail, "--declare-only"], env=self.env(), check=True,
                                   capture_output=True, timeout=120)
            for worker in self.worker_names:
                self.start_worker(worker)
            # Tests start once every worker is connected: an event written by the first test
            # is not waiting for a consumer that is still starting.
            for worker in self.worker_names:
                self.wait_worker_ready(worker)
        except Exception:
            self.stop()
            raise
        return self

    def _start_http(self, name: str, app: str | None) -> Process:
        """A service's gunicorn app ``app``, or the gateway (``app`` None)."""
        env = self.service_env(name)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(self.prom_dir) / name)
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        env["METRICS_PORT"] = str(self.metrics_ports.setdefault(name, free_port()))
        argv = gateway_argv(self.ports[name], self.web_workers) if app is None \
            else gunicorn_argv(app, self.ports[name], workers=self.web_workers)
        proc = Process(name, argv, env, ready_url=f"{self.url(name)}/healthz", log_dir=self.log_dir)
        self.procs[name] = proc.start(wait=60)
        return proc

    def start_worker(self, name: str) -> Process:
        svc, tail = WORKERS[name]
        cli = Path(sys.executable).parent / HTTP_SERVICES[svc]["dir"]
        env = self.env()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(self.prom_dir) / name)
        Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
        # Relays and consumers serve /metrics on METRICS_PORT, as in the images.
        env["METRICS_PORT"] = str(self.metrics_ports.setdefault(name, free_port()))
        proc = Process(name, [str(cli), *tail], env, log_dir=self.log_dir)
        self.procs[name] = proc.start()
        return proc

    def wait_worker_ready(self, name: str, timeout: float = 90.0) -> None:
        """Poll the worker's metrics until its loop reports being connected."""
        signal_name = WORKER_READY_SIGNAL.get(WORKERS[name][1][0])
        if signal_name is None:
            return
        url = self.metrics_url(name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            proc = self.procs[name]
            if not proc.alive():
                raise RuntimeError(f"{name} exited:\n{proc.tail()}")
            try:
                if any(line.startswith(signal_name) for line in requests.get(url, timeout=2).text.splitlines()):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{name} not connected after {timeout}s:\n{self.procs[name].tail()}")

    def stop(self) -> None:
        from concurrent.futures import ThreadPoolExecutor

        def quietly(fn, arg):
            try:
                fn(arg)
            except Exception:  # noqa: BLE001 - best effort teardown
                pass

        with ThreadPoolExecutor(8) as pool:  # processes first, then their databases
            list(pool.map(lambda p: quietly(Process.stop, p), list(self.procs.values())))
            list(pool.map(lambda u: quietly(drop_database, u), list(self.db_urls.values())))
        if self.amqp_url:
            (self.broker.delete_vhost if self.broker is not None else delete_vhost)(self.amqp_url)
        rmtree(self.prom_dir)

    def logs(self, name: str) -> str:
        return self.procs[name].log_text()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def check_service_starts_on_sqlite(create_app, service_dir: Path, service: str, tmp_path: Path) -> None:
    """A service migrates a fresh SQLite database (``make run``'s default), starts, answers
    /healthz, reports /readyz (database critical, an unreachable broker reported but not
    fatal) and serves a valid OpenAPI document with interactive docs."""
    from openapi_spec_validator import validate

    from crm_common.config import Settings
    from crm_common.migrations import upgrade_head

    url = f"sqlite:///{tmp_path}/db.sqlite"
    upgrade_head(service_dir, url)
    app = create_app(Settings.from_env(service, {f"{service.upper()}_DATABASE_URL": url,
                                                 "AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}))
    client = app.test_client()
    assert client.get("/healthz").get_json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200
    checks = ready.get_json()["checks"]
    assert checks["database"]["ok"] is True
    if "broker" in checks:  # a service that publishes or consumes reports it, never fatal
        assert checks["broker"]["ok"] is False
    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert client.get("/docs").status_code == 200
    # Every route the service answers is documented, with its methods.
    undocumented = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith(("/docs", "/openapi.json")):
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in spec["paths"].get(path, {}):
                undocumented.append(f"{method} {path}")
    assert not undocumented, f"routes missing from /openapi.json: {undocumented}"
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue  # e.g. path-level "parameters"
            assert operation.get("summary") or operation.get("description"), f"{method.upper()} {path} has no docstring"


@contextlib.contextmanager
def migrated_database(service_dir: Path, prefix: str):
    """A fresh PostgreSQL database at the service's migration head, dropped afterwards."""
    from crm_common.migrations import upgrade_head

    url = create_database(prefix)
    try:
        upgrade_head(service_dir, url)
        yield url
    finally:
        drop_database(url)


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` passes; returns
    its last value (so ``assert wait_for(...)`` shows what it saw)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
