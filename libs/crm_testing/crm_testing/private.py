"""Private infrastructure for fault tests: a PostgreSQL cluster and a RabbitMQ node of
the test's own, on free ports in a temporary directory, that the test may stop, restart
(``-m immediate`` included) and kill without disturbing the shared PostgreSQL/RabbitMQ
that other test runs use at the same time.

    with PrivatePostgres() as pg, PrivateRabbit() as mq:
        with Stack(pg_admin_url=pg.admin_url, broker=mq) as stack: ...
        pg.restart(mode="immediate"); mq.stop_app(); mq.start_app()
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path

import sqlalchemy as sa

from crm_testing.ports import free_port


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def postgres_bindir() -> Path:
    """The newest PostgreSQL server binaries installed (``/usr/lib/postgresql/*/bin``)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PrivatePostgres:
    """A throw-away PostgreSQL cluster: ``initdb`` into a temp dir, trust auth, a free port.
    As root the server runs as the ``postgres`` OS user (initdb refuses root)."""

    def __init__(self, port: int | None = None, max_connections: int = 200):
        self.bindir = postgres_bindir()
        self.port = port or free_port()
        self.max_connections = max_connections
        self.base = Path(tempfile.mkdtemp(prefix="crm-pg-"))
        self.datadir = self.base / "data"
        self.logfile = self.base / "postgres.log"
        self._user = None
        if os.geteuid() == 0:
            self._user = pwd.getpwnam("postgres")
            os.chown(self.base, self._user.pw_uid, self._user.pw_gid)
        self.admin_url = f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/postgres"
        self.restarts = 0

    def _run(self, *argv: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
        cmd = [str(self.bindir / argv[0]), *argv[1:]]
        if self._user is not None:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, timeout=timeout, cwd=self.base)

    def start(self) -> "PrivatePostgres":
        if not (self.datadir / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.datadir), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                      "--locale=C.UTF-8", "--no-sync")
            with open(self.datadir / "postgresql.conf", "a") as conf:
                conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {self.port}\n"
                           f"unix_socket_directories = '{self.base}'\nmax_connections = {self.max_connections}\n"
                           "fsync = on\nshared_buffers = 64MB\n")
        self._run("pg_ctl", "-D", str(self.datadir), "-l", str(self.logfile), "-w", "-t", "60", "start")
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                engine = sa.create_engine(self.admin_url, poolclass=sa.pool.NullPool)
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                engine.dispose()
                return
            except sa.exc.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"private PostgreSQL on {self.port} not ready:\n{self.log_tail()}")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.datadir), "-m", mode, "-w", "-t", "60", "stop", check=False)

    def restart(self, mode: str = "fast", down_for: float = 0.0) -> None:
        """Stop (``fast`` or ``immediate``: a crash, recovery on start) and start again."""
        self.stop(mode)
        if down_for:
            time.sleep(down_for)
        self.start()
        self.restarts += 1

    def create_database(self, prefix: str = "crm_test") -> str:
        name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
        return self.admin_url.rsplit("/", 1)[0] + "/" + name

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()


RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")


class PrivateRabbit:
    """A RabbitMQ node of its own (``crmtest-<rand>@localhost``) on free AMQP and
    distribution ports, its Mnesia, logs, config and Erlang cookie in a temp dir.
    ``stop_app``/``start_app`` act on this node only (``rabbitmqctl -n``)."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="crm-mq-"))
        self.node = f"crmtest-{uuid.uuid4().hex[:8]}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}"
        (self.base / "rabbitmq.conf").write_text("loopback_users = none\n")
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "enabled_plugins").write_text("[].\n")
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update({
            "HOME": str(self.base), "RABBITMQ_NODENAME": self.node, "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port), "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"), "RABBITMQ_LOG_BASE": str(self.base / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": str(self.base / "pid"), "ERL_EPMD_ADDRESS": "127.0.0.1",
        })
        return env

    def ctl(self, *args: str, timeout: float = 120) -> str:
        out = subprocess.run([str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, "-q", *args], env=self.env(),
                             capture_output=True, timeout=timeout, cwd=self.base)
        if out.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {out.stderr.decode(errors='replace')[-2000:]}")
        return out.stdout.decode(errors="replace")

    def start(self) -> "PrivateRabbit":
        log = open(self.base / "server.out", "ab")
        self.proc = subprocess.Popen([str(RABBIT_BIN / "rabbitmq-server")], env=self.env(), cwd=self.base,
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.ctl("wait", "--timeout", "90", str(self.base / "pid"), timeout=120)
        self.wait_accepting()
        return self

    def wait_accepting(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _port_open(self.port):
                return
            time.sleep(0.1)
        raise RuntimeError(f"private RabbitMQ {self.node} not accepting on {self.port}")

    def stop_app(self) -> None:
        self.ctl("stop_app")

    def start_app(self) -> None:
        self.ctl("start_app")
        self.wait_accepting()
        self.restarts += 1

    def create_vhost(self, prefix: str = "crm_test") -> str:
        vhost = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.ctl("add_vhost", vhost)
        self.ctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        return f"{self.url}/{urllib.parse.quote(vhost, safe='')}"

    def delete_vhost(self, amqp_url: str) -> None:
        try:
            self.ctl("delete_vhost", urllib.parse.unquote(amqp_url.rsplit("/", 1)[1]))
        except (RuntimeError, subprocess.SubprocessError):
            pass

    def close(self) -> None:
        try:
            self.ctl("stop", timeout=60)
        except (RuntimeError, subprocess.SubprocessError):
            pass
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, 9)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self):
        try:
            return self.start()
        except Exception:
            self.close()
            raise

    def __exit__(self, *exc):
        self.close()
