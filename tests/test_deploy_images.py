"""Issue 8: the images (deploy/docker/*.Dockerfile), checked without a docker engine.

Each Dockerfile is read like docker would read it, and its runtime stage is replayed on this
machine: the files it COPYs are put where it puts them (a temporary root stands in for
``/``), the service package goes into a stand-in ``site-packages`` (as the wheel install
does), the RUN steps that use the repository's scripts run, and then the image's own
ENTRYPOINT + CMD run with the image's ENV against a fresh PostgreSQL database, until
``/readyz`` answers 200 and the image's HEALTHCHECK passes."""
from __future__ import annotations

import base64
import fnmatch
import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pika
import pytest
import requests

from crm_testing import (
    Process,
    base_env,
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    free_port,
    repo_root,
)

ROOT = repo_root()
DOCKER_DIR = ROOT / "deploy" / "docker"
# Every HTTP process of CONTRACT §1 ships as an image: name -> (port, database variable).
IMAGES = {
    "gateway": (8080, None),
    "customer-service": (8001, "CUSTOMER_DATABASE_URL"),
    "viewing-service": (8002, "VIEWING_DATABASE_URL"),
    "analytics-service": (8003, "ANALYTICS_DATABASE_URL"),
    "sync-worker": (8004, "SYNC_DATABASE_URL"),
    "webhook-service": (8005, "WEBHOOK_DATABASE_URL"),
    "token-issuer": (8006, "ISSUER_DATABASE_URL"),
}
SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "DATABASE_URL", "AMQP_URL", "REDIS_URL")


# --- reading a Dockerfile -----------------------------------------------------------------------

@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str | None:
        found = self.all(keyword)
        return found[-1] if found else None


def read_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage, continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    stages: list[Stage] = []
    for line in lines:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            stages.append(Stage(parts[0], parts[2] if len(parts) > 2 and parts[1].upper() == "AS" else None))
        elif keyword != "ARG" or stages:
            if stages:
                stages[-1].instructions.append((keyword, args))
    return stages


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for item in shlex.split(args):
            key, sep, value = item.partition("=")
            assert sep, f"use ENV key=value: {args}"
            env[key] = value
    return env


def copies_of(stage: Stage) -> dict[str, str]:
    """Image path -> repository path, for the stage's COPYs from the build context."""
    out = {}
    for args in stage.all("COPY"):
        parts = [p for p in shlex.split(args) if not p.startswith("--")]
        if any(p.startswith("--from") for p in shlex.split(args)):
            continue
        *sources, dest = parts
        for source in sources:
            out[dest.rstrip("/") if len(sources) == 1 else f"{dest.rstrip('/')}/{Path(source).name}"] = source
    return out


def dockerfiles() -> list[Path]:
    return sorted(DOCKER_DIR.glob("*.Dockerfile"))


def dockerignore() -> tuple[list[str], list[str]]:
    allowed, excluded = [], []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or line == "*":
            continue
        (allowed if line.startswith("!") else excluded).append(line.lstrip("!").rstrip("/"))
    return allowed, excluded


# --- static checks ------------------------------------------------------------------------------

def test_every_http_process_has_a_dockerfile():
    assert {p.name.removesuffix(".Dockerfile") for p in dockerfiles()} >= set(IMAGES)


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_is_multi_stage_non_root_with_healthcheck_and_no_secrets(name):
    path = DOCKER_DIR / f"{name}.Dockerfile"
    stages = read_dockerfile(path)
    assert len(stages) >= 2, "builder and runtime stages"
    builder, runtime = stages[0], stages[-1]
    [install] = [r for r in builder.all("RUN") if "pip install" in r]
    assert f"pip install --require-hashes --no-deps -r {name}/requirements.lock" in install, \
        "third-party packages only from the package's own lock, hashes checked, nothing resolved"
    assert f"pip install --no-deps ./libs/crm_common ./{name}" in install, "then our own packages, adding nothing"
    assert any(c.split() == ["--from=builder", "/opt/venv", "/opt/venv"] for c in runtime.all("COPY")), \
        "the runtime takes the builder's virtualenv"
    assert not any("pip" in r for r in runtime.all("RUN")), "the runtime installs nothing itself"
    user = runtime.last("USER")
    assert user and user.split(":")[0] not in ("root", "0"), "runs as a non-root user"
    env = env_of(runtime)
    for key in ("PORT", "WEB_CONCURRENCY", "GUNICORN_THREADS", "GUNICORN_TIMEOUT", "PROMETHEUS_MULTIPROC_DIR",
                "METRICS_PORT"):
        assert key in env, key
    assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")
    assert int(env["PORT"]) == IMAGES[name][0]
    assert not [k for k in env if any(word in k for word in SECRET_WORDS)], "no secrets in the image"
    health = runtime.last("HEALTHCHECK")
    assert health and "CMD" in health and "curl" not in health and "wget" not in health
    assert exec_form(runtime.last("ENTRYPOINT")) and exec_form(runtime.last("CMD"))
    # Migrations travel inside the wheel (package data, issue 23): nothing copied beside it.
    copied = copies_of(runtime)
    assert not any(src.endswith(("alembic.ini", "/migrations")) for src in copied.values())


def requirement_names(path: Path) -> set[str]:
    """Distribution names pinned in a lock file (``name==version \\``), normalised."""
    return {normalise(m) for m in re.findall(r"^([A-Za-z0-9._-]+)==", path.read_text(), flags=re.M)}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_dependencies(project_dir: Path) -> set[str]:
    with open(project_dir / "pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"].get("dependencies", [])
    return {normalise(re.match(r"[A-Za-z0-9._-]+", d).group(0)) for d in dependencies}


OWN_PACKAGES = {"crm-common", "crm-gateway", "customer-service", "viewing-service", "analytics-service",
                "sync-worker", "webhook-service", "token-issuer"}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_each_package_lock_pins_every_dependency_of_the_package_and_the_shared_library(name):
    lock = ROOT / name / "requirements.lock"
    pinned = requirement_names(lock)
    wanted = (runtime_dependencies(ROOT / name) | runtime_dependencies(ROOT / "libs" / "crm_common")) - OWN_PACKAGES
    assert wanted <= pinned, f"{lock.name} misses {sorted(wanted - pinned)}"
    assert not pinned & OWN_PACKAGES, "our own packages are installed from the build context, not the lock"
    pins = [block for block in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()) if "==" in block]
    assert pins and all("--hash=sha256:" in pin for pin in pins), "every pin carries its hashes (--require-hashes)"


@pytest.mark.parametrize("path", dockerfiles(), ids=lambda p: p.name)
def test_everything_an_image_copies_exists_and_is_in_the_build_context(path):
    allowed, excluded = dockerignore()
    for stage in read_dockerfile(path):
        for args in stage.all("COPY"):
            if "--from" in args:
                continue
            *sources, _dest = [p for p in shlex.split(args) if not p.startswith("--")]
            for source in sources:
                assert (ROOT / source).exists(), f"{path.name}: COPY {source}: no such file"
                assert any(source == a or source.startswith(a + "/") for a in allowed), \
                    f"{path.name}: {source} is outside the .dockerignore allowlist"
                assert not any(fnmatch.fnmatch(source, pattern.replace("**/", "*")) for pattern in excluded), \
                    f"{path.name}: {source} is excluded by .dockerignore"


def test_scripts_the_images_run_are_executable():
    for script in ("entrypoint.sh", "healthcheck.py", "build.sh"):
        assert os.access(DOCKER_DIR / script, os.X_OK), script


# --- the image's start command, run here ---------------------------------------------------------

class ImageReplay:
    """The runtime stage of one Dockerfile laid out under a temporary root."""

    def __init__(self, path: Path, tmp: Path):
        self.stage = read_dockerfile(path)[-1]
        self.root, self.site = tmp / "root", tmp / "site"
        self.site.mkdir(parents=True)
        self.copies = copies_of(self.stage)
        self.image_env = env_of(self.stage)

    def host_path(self, image_path: str) -> Path:
        """Where an image path lives here: a copied file is the repository's, the rest is
        under the temporary root."""
        if image_path in self.copies:
            return ROOT / self.copies[image_path]
        return self.root / image_path.lstrip("/")

    def lay_out(self) -> None:
        for dest, source in self.copies.items():
            target = self.root / dest.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(ROOT / source)

    def install_package(self, top_level: str) -> None:
        """What the wheel install does: the package's code in site-packages."""
        spec = importlib.util.find_spec(top_level)
        assert spec is not None and spec.submodule_search_locations, f"{top_level} is not installed"
        shutil.copytree(spec.submodule_search_locations[0], self.site / top_level,
                        ignore=shutil.ignore_patterns("__pycache__"))

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        env = base_env()
        for key, value in self.image_env.items():
            if key == "PATH":
                value = value.replace("/opt/venv/bin", str(Path(sys.executable).parent)).replace("$PATH", os.environ["PATH"])
            elif value.startswith(("/tmp/", "/app")):
                value = str(self.host_path(value))
            env[key] = value
        env["PYTHONPATH"] = str(self.site)
        env.update(extra)
        return env

    def image_argv(self, argv: list[str]) -> list[str]:
        """Resolve a command the image runs: files the image copied map to the repository,
        other image paths to the temporary root; ``python`` is this virtualenv's."""
        path_dirs = self.image_env.get("PATH", "").split(":") + ["/usr/local/bin", "/usr/bin"]
        out = []
        for i, arg in enumerate(argv):
            if i == 0 and arg == "python":
                out.append(sys.executable)
                continue
            if i == 0 and "/" not in arg:
                for d in path_dirs:
                    if f"{d}/{arg}" in self.copies:
                        arg = f"{d}/{arg}"
                        break
            out.append(str(self.host_path(arg)) if arg.startswith("/") else arg)
        return out

    def build_steps(self) -> list[tuple[list[str], dict[str, str]]]:
        """The RUN steps that use the repository's own scripts (pip and useradd are docker's),
        as commands to run here; the package each names is put into site-packages first."""
        steps = []
        for args in self.stage.all("RUN"):
            argv = shlex.split(args)
            while argv and argv[0] == "env":
                argv = argv[3:] if argv[1] == "-u" else argv[1:]
            if argv and argv[0] == "python" and len(argv) > 1 and argv[1] in self.copies:
                for arg in argv[2:]:
                    if "." in arg and "/" not in arg:
                        self.install_package(arg.split(".")[0])
                env = self.env({})
                env.pop("PROMETHEUS_MULTIPROC_DIR", None)
                steps.append((self.image_argv(argv), env))
        return steps

    def start_command(self) -> list[str]:
        return self.image_argv(exec_form(self.stage.last("ENTRYPOINT")) + exec_form(self.stage.last("CMD")))

    def healthcheck_command(self) -> list[str]:
        health = self.stage.last("HEALTHCHECK")
        return self.image_argv(exec_form(health[health.index("CMD ") + 4:]))


@dataclass
class RunningImage:
    replay: ImageReplay
    proc: Process
    port: int
    env: dict[str, str]
    database: str | None
    metrics_port: int


@pytest.fixture(scope="module")
def running_images(tmp_path_factory):
    """Every image's start command, started at once (they start in parallel, as in compose)."""
    running: dict[str, RunningImage] = {}
    replays = {name: ImageReplay(DOCKER_DIR / f"{name}.Dockerfile", tmp_path_factory.mktemp(name)) for name in IMAGES}
    build = []
    for name, replay in replays.items():
        replay.lay_out()
        for argv, env in replay.build_steps():
            build.append((name, subprocess.Popen(argv, env=env, cwd=replay.root, stdout=subprocess.PIPE,
                                                 stderr=subprocess.STDOUT, text=True)))
    for name, step in build:
        out, _ = step.communicate(timeout=120)
        assert step.returncode == 0, f"{name}: RUN {step.args}:\n{out}"
    try:
        for name, replay in replays.items():
            port, db_variable = IMAGES[name]
            http_port, metrics_port = free_port(), free_port()
            # loopback here; 0.0.0.0 in a container
            extra = {"PORT": str(http_port), "HOST": "127.0.0.1", "METRICS_PORT": str(metrics_port),
                     "METRICS_ADDR": "127.0.0.1"}
            database = None
            if db_variable:
                database = extra[db_variable] = create_database(f"crm_image_{name.split('-')[0]}")
            else:  # the gateway: upstreams nowhere (its /readyz reports them without failing)
                dead = f"http://127.0.0.1:{free_port()}"
                extra.update({f"{s}_SERVICE_URL": dead
                              for s in ("CUSTOMER", "VIEWING", "ANALYTICS", "SYNC", "WEBHOOK", "ISSUER")})
            if name == "token-issuer":  # as compose and Kubernetes give it (never in the image)
                extra["ISSUER_KEY_ENCRYPTION_KEY"] = base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
            env = replay.env(extra)
            workdir = replay.host_path(replay.stage.last("WORKDIR") or "/")
            workdir.mkdir(parents=True, exist_ok=True)
            proc = Process(f"image-{name}", replay.start_command(), env, cwd=workdir, log_dir=replay.root)
            running[name] = RunningImage(replay, proc.start(), http_port, env, database, metrics_port)
        yield running
    finally:
        def stop(image: RunningImage) -> None:
            image.proc.stop()
            if image.database:
                drop_database(image.database)
        with ThreadPoolExecutor(max_workers=len(running) or 1) as pool:
            list(pool.map(stop, running.values()))


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(IMAGES))
def test_image_start_command_migrates_serves_and_passes_its_healthcheck(name, running_images):
    image = running_images[name]
    base = f"http://127.0.0.1:{image.port}"
    image.proc.ready_url = f"{base}/readyz"
    image.proc.wait_ready(90)  # migrations ran (serve --migrate), then gunicorn answered 200
    ready = requests.get(f"{base}/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    if image.database:
        assert ready.json()["checks"]["database"]["ok"] is True
        assert "alembic_version" in sa_tables(image.database)
    # The image's HEALTHCHECK, as docker would run it inside the container.
    check = subprocess.run(image.replay.healthcheck_command(), env=image.env, capture_output=True, text=True,
                           timeout=30)
    assert check.returncode == 0, check.stderr
    # gunicorn's workers share the multiprocess metrics directory named by the image's ENV;
    # the master serves them on METRICS_PORT only, never on the public port.
    metrics = requests.get(f"http://127.0.0.1:{image.metrics_port}/metrics", timeout=5)
    assert metrics.status_code == 200 and "http_requests_total" in metrics.text
    assert requests.get(f"{base}/metrics", timeout=5).status_code in (401, 404)
    assert any(Path(image.env["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"))


def sa_tables(url: str) -> list[str]:
    import sqlalchemy as sa
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        return sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["customer-service", "viewing-service", "analytics-service", "sync-worker",
                                  "webhook-service"])
def test_image_declares_its_consumer_queue_as_the_compose_and_kubernetes_jobs_do(name, running_images):
    """`<service> consume --declare-only` through the image's ENTRYPOINT (the `*-queues` jobs
    of docker-compose.yml and the relays' init containers)."""
    image = running_images[name]
    amqp_url = create_vhost("crm_image_queues")
    try:
        argv = image.replay.image_argv(exec_form(image.replay.stage.last("ENTRYPOINT"))
                                       + [name, "consume", "--declare-only"])
        done = subprocess.run(argv, env={**image.env, "AMQP_URL": amqp_url}, capture_output=True, text=True,
                              timeout=60, cwd=image.replay.root)
        assert done.returncode == 0, done.stdout + done.stderr
        queue = done.stdout.split("declared ", 1)[1].split(" ", 1)[0]
        assert queue.startswith(f"{name}.")
        connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
        try:
            channel = connection.channel()
            channel.queue_declare(queue=queue, passive=True)
            channel.queue_declare(queue=f"{queue}.dlq", passive=True)
        finally:
            connection.close()
    finally:
        delete_vhost(amqp_url)
