"""Issue 12, done when: `make run`'s Procfile starts the whole set with a PostgreSQL URL in
the form most users are handed (`postgresql://`), the README's round trip works as
written, and `/docs` renders its operations in Chromium with every non-local host
unreachable (the Swagger UI files are served by the project; a screenshot is written as
an artefact and its path printed)."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from crm_testing import (
    create_database,
    create_vhost,
    delete_vhost,
    drop_database,
    free_port,
    free_port_block,
    repo_root,
)

pytestmark = pytest.mark.system

ROOT = repo_root()
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Everything but this machine is unreachable for the browser (as an air-gapped user's).
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"


def free_metrics_base() -> int:
    """A base port whose Procfile offsets (+1 .. +80) are all free (and reserved for this run)."""
    offsets = [int(m) for m in re.findall(r"METRICS_PORT_BASE:-9100}\+(\d+)", (ROOT / "Procfile").read_text())]
    return free_port_block(offsets)


def readme_round_trip() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## One round trip through the gateway", 1)[1]
    return re.search(r"```bash\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def procfile_stack(tmp_path_factory):
    home = tmp_path_factory.mktemp("make-run")
    database = create_database("crm_make_run")
    amqp = create_vhost("crm_make_run")
    ports = {name: free_port() for name in ("CUSTOMER", "VIEWING", "ANALYTICS", "SYNC", "ISSUER", "WEBHOOK", "GATEWAY")}
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_DATABASE_URL", "_SERVICE_URL"))}
    env.pop("JWT_SECRET", None)  # make run's default: the development key, as `make token` uses it
    env.update({f"{name}_PORT": str(port) for name, port in ports.items()})
    env.update(CRM_HOME=str(home), METRICS_PORT_BASE=str(free_metrics_base()), AMQP_URL=amqp,
               CUSTOMER_DATABASE_URL=database.replace("postgresql+psycopg2://", "postgresql://"),
               PATH=f"{Path(sys.executable).parent}:{env['PATH']}", PYTHONUNBUFFERED="1")
    log = open(home / "honcho.log", "wb")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "honcho"), "-f", str(ROOT / "Procfile"),
                             "-d", str(ROOT), "start"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    gateway = f"http://127.0.0.1:{ports['GATEWAY']}"
    try:
        deadline = time.monotonic() + 120
        ready = False
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                body = requests.get(f"{gateway}/readyz", timeout=2).json()
                if all(check["ok"] for name, check in body["checks"].items() if name.endswith("-service")):
                    ready = True
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass
            time.sleep(0.5)
        assert ready, (home / "honcho.log").read_text(errors="replace")[-4000:]
        yield {"gateway": gateway, "port": ports["GATEWAY"], "env": env, "home": home, "database": database}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
        drop_database(database)
        delete_vhost(amqp)


def test_the_readme_round_trip_works_as_written_on_a_postgresql_url(procfile_stack):
    script = readme_round_trip().replace("localhost:8080", f"localhost:{procfile_stack['port']}")
    done = subprocess.run(["bash", "-c", "set -euo pipefail\n" + script], cwd=ROOT, env=procfile_stack["env"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.count('"success":true') == 5, out  # create, update, list, status, delete
    assert re.search(r'(?i)^etag: "1"', out, re.M), out
    gone = requests.get(f"{procfile_stack['gateway']}/api/v1/customers/1", timeout=10, headers={
        "Authorization": "Bearer " + subprocess.run(["make", "-s", "token", "ROLE=admin", "FACTORY=F001"], cwd=ROOT,
                                                    env=procfile_stack["env"], capture_output=True,
                                                    text=True).stdout.strip()})
    assert gone.status_code == 404  # deleted, on the PostgreSQL database named by postgresql://
    import sqlalchemy as sa
    engine = sa.create_engine(procfile_stack["database"], poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM customers WHERE name = '上海普全公司'")).scalar() == 1
    engine.dispose()


def test_docs_render_their_operations_in_chromium_with_the_network_closed(procfile_stack, tmp_path):
    assert Path(CHROMIUM).exists(), "Debian's chromium is needed (scripts/ensure-browser.sh installs it)"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", OFFLINE,
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=15000"]
    url = f"{procfile_stack['gateway']}/docs"
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    operations = re.findall(r'class="opblock opblock-(get|post|put|patch|delete)', dom)
    assert len(operations) > 40, f"Swagger UI rendered {len(operations)} operations"
    assert "/api/v1/customers" in dom and "/api/mobile/{factoryId}/customers" in dom
    shot = Path(os.environ.get("CRM_TEST_ARTEFACTS", tmp_path)) / "docs-offline.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,1600", f"--screenshot={shot}", url],
                   capture_output=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, "the screenshot is missing or blank"
    print(f"\n/docs screenshot (network closed): {shot}")
