"""The dashboard's files as the gateway serves them (no browser, no upstream): public,
local, confined to their folder, shipped in the package. The page itself is driven in
headless Chromium by tests/test_dashboard.py."""
from __future__ import annotations

import hashlib
import re
import subprocess
import sys

import pytest

from crm_common.config import Settings
from crm_testing import TEST_JWT_SECRET
from gateway.app import create_app
from gateway.dashboard import STATIC

OWN_FILES = sorted(p for p in STATIC.rglob("*") if p.is_file() and "vendor" not in p.parts)
VENDOR = STATIC / "vendor" / "echarts"


@pytest.fixture(scope="module")
def client():
    settings = Settings.from_env("gateway", {"JWT_SECRET": TEST_JWT_SECRET})
    return create_app(settings).test_client()


def test_the_page_and_its_assets_need_no_token(client):
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert "客户统计看板" in page.get_data(as_text=True)
    script = client.get("/dashboard/js/main.js")
    assert script.status_code == 200
    assert script.mimetype in ("text/javascript", "application/javascript")
    assert client.get("/dashboard/vendor/echarts/echarts.common.min.js").status_code == 200


def test_dashboard_without_slash_redirects_so_relative_asset_urls_resolve(client):
    resp = client.get("/dashboard")
    assert resp.status_code in (301, 308)
    assert resp.headers["Location"].endswith("/dashboard/")


def test_the_browser_may_load_and_call_only_the_gateway_itself(client):
    headers = client.get("/dashboard/").headers
    policy = dict(part.strip().split(" ", 1) for part in headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", [
    "/dashboard/nope.js",
    "/dashboard/../gateway/app.py",
    "/dashboard/%2e%2e/__init__.py",
    "/dashboard/..%2f__init__.py",
    "/dashboard/js/../../__init__.py",
])
def test_a_path_outside_the_static_folder_is_404_and_never_proxied(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert b"STATIC" not in resp.data and b"import" not in resp.data


def test_only_the_dashboards_own_files_are_public(client):
    assert client.get("/dashboardx").status_code == 401
    assert client.get("/api/mobile/F1/customers/type-distribution").status_code == 401
    # every method under /dashboard/ is answered by the dashboard, never proxied
    assert client.post("/dashboard/js/main.js").status_code == 405
    assert client.delete("/dashboard/").status_code == 405


def test_every_asset_the_page_references_exists_locally():
    html = (STATIC / "index.html").read_text()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert "js/main.js" in refs and "vendor/echarts/echarts.common.min.js" in refs
    for ref in refs:
        if not ref.startswith("data:"):
            assert (STATIC / ref).is_file(), ref
    for module in (STATIC / "js").glob("*.js"):
        for imported in re.findall(r'from "(\./[^"]+)"', module.read_text()):
            assert (module.parent / imported).is_file(), f"{module.name} imports {imported}"


def test_our_own_files_name_no_other_origin():
    for path in OWN_FILES:
        if path.suffix in (".html", ".css", ".js"):
            assert not re.search(r"https?://|//cdn|@import", path.read_text()), path


def test_the_vendored_chart_library_is_the_recorded_npm_release():
    readme = (VENDOR / "README.md").read_text()
    recorded = re.search(r"\| sha256 \| `([0-9a-f]{64})` \|", readme).group(1)
    actual = hashlib.sha256((VENDOR / "echarts.common.min.js").read_bytes()).hexdigest()
    assert actual == recorded, "the vendored file changed: refresh it with make vendor-echarts"
    assert re.search(r"`echarts@\d+\.\d+\.\d+` from the npm registry", readme)
    for licence in ("LICENSE", "NOTICE", "LICENSE-zrender", "LICENSE-d3"):
        assert (VENDOR / licence).is_file(), licence


def test_the_package_ships_every_dashboard_file(tmp_path):
    """What the image installs: setuptools' build of the gateway package."""
    project = STATIC.parents[3]  # gateway/ (src/gateway/dashboard/static)
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "build_py",
                    "--build-lib", str(tmp_path)], cwd=project, check=True, capture_output=True)
    built = tmp_path / "gateway" / "dashboard" / "static"
    expected = {p.relative_to(STATIC) for p in STATIC.rglob("*") if p.is_file()}
    shipped = {p.relative_to(built) for p in built.rglob("*") if p.is_file()}
    assert expected <= shipped, sorted(map(str, expected - shipped))
