"""Self-contained wheels (issue 23): each service's wheel and the shared library's, installed into
a fresh virtual environment, migrate a SQLite database and serve from a directory that holds
nothing of the repository — Alembic's files come from the package (importlib.resources), as
an internal team deploying one service without the others would run it.

Offline: the wheels are built here with ``pip wheel --no-deps --no-build-isolation`` and installed
with ``--no-deps --no-index``; third-party packages come from this project's virtualenv (a
``.pth`` line in the fresh environment points at its site-packages, which makes its own editable
installs invisible: ``.pth`` files there are not processed)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import requests

from crm_common.release import project_version
from crm_testing import Process, base_env, free_port, prometheus_dir, repo_root

ROOT = repo_root()
pytestmark = pytest.mark.slow
# project directory -> (console script, Settings service name or None without a database)
SERVICES = {
    "customer-service": ("customer-service", "customer"),
    "viewing-service": ("viewing-service", "viewing"),
    "analytics-service": ("analytics-service", "analytics"),
    "sync-worker": ("sync-worker", "sync"),
    "webhook-service": ("webhook-service", "webhook"),
    "token-issuer": ("token-issuer", "issuer"),
    "gateway": ("gateway", None),
}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> Path:
    out, sources = tmp_path_factory.mktemp("wheels"), tmp_path_factory.mktemp("sources")
    # Built from copies: setuptools leaves build/ and *.egg-info beside the sources it builds.
    projects = []
    for name in ["libs/crm_common", *SERVICES]:
        projects.append(sources / Path(name).name)
        shutil.copytree(ROOT / name, projects[-1], ignore=shutil.ignore_patterns(
            "tests", "build", "dist", "*.egg-info", "__pycache__", "contracts", "CHANGELOG.md"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                            "--no-index", "-w", str(out), *map(str, projects)],
                           cwd=out, capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stdout + built.stderr
    return out


@pytest.fixture(scope="module")
def venv(wheels, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=120)
    python = home / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    (Path(purelib) / "crm-third-party.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
                                "--no-index", *map(str, sorted(wheels.glob("*.whl")))],
                               capture_output=True, text=True, timeout=600)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return home


def test_each_wheel_carries_its_migrations_and_data_files(wheels):
    names = {path.name.split("-")[0]: path for path in wheels.glob("*.whl")}
    for project, (_script, service) in SERVICES.items():
        package = project.replace("-", "_") if project != "gateway" else "gateway"
        wheel = names["crm_gateway" if project == "gateway" else package]
        files = set(zipfile.ZipFile(wheel).namelist())
        assert f"{package}/__init__.py" in files
        if service:
            assert {f"{package}/alembic.ini", f"{package}/migrations/env.py",
                    f"{package}/migrations/script.py.mako"} <= files, wheel.name
            assert any(f.startswith(f"{package}/migrations/versions/0001") for f in files), wheel.name
            assert project_version(ROOT / project) in wheel.name
    common = set(zipfile.ZipFile(names["crm_common"]).namelist())
    assert "crm_common/swagger_ui/swagger-ui-bundle.js" in common


@pytest.mark.parametrize("project", sorted(SERVICES))
def test_the_installed_wheel_migrates_and_serves_from_any_directory(project, venv, tmp_path):
    script, service = SERVICES[project]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = base_env(PORT=str(port), METRICS_PORT=str(free_port()), PROMETHEUS_MULTIPROC_DIR=prometheus_dir(),
                   WEB_CONCURRENCY="1", AMQP_URL="amqp://guest:guest@127.0.0.1:1/%2F", GIT_COMMIT="wheeltest",
                   PATH=f"{venv / 'bin'}:{base_env()['PATH']}", PYTHONPATH="")
    env.pop("VIRTUAL_ENV", None)
    if service:
        env[f"{service.upper()}_DATABASE_URL"] = f"sqlite:///{tmp_path}/{service}.sqlite"
        migrated = subprocess.run([str(venv / "bin" / script), "migrate"], cwd=elsewhere, env=env,
                                  capture_output=True, text=True, timeout=120)
        assert migrated.returncode == 0, migrated.stdout + migrated.stderr
        assert (tmp_path / f"{service}.sqlite").stat().st_size > 0
    where = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {project.replace('-', '_')}, crm_common; "
                            f"print({project.replace('-', '_')}.__file__, crm_common.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, timeout=60)
    assert where.stdout.count(str(venv)) == 2, where  # the wheels' code, not the checkout's
    server = Process(f"wheel-{project}", [str(venv / "bin" / script), "serve"], env, cwd=elsewhere,
                     ready_url=f"http://127.0.0.1:{port}/healthz", log_dir=tmp_path)
    server.start(wait=60)
    try:
        health = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).json()
        assert (health["status"], health["version"], health["commit"]) == \
            ("ok", project_version(ROOT / project), "wheeltest")
        assert requests.get(f"http://127.0.0.1:{port}/docs", timeout=10).status_code == 200
    finally:
        server.stop()
