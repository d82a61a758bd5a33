"""crm_common.release: the version and commit /healthz reports (issue 23)."""
from __future__ import annotations

import pytest

from crm_common import release
from crm_common.config import Settings
from crm_common.web import create_base_app, finish_app


@pytest.fixture(autouse=True)
def _fresh_commit_cache():
    release.commit_of.cache_clear()
    yield
    release.commit_of.cache_clear()


def test_healthz_adds_the_version_and_the_stamped_commit(monkeypatch):
    monkeypatch.setenv("GIT_COMMIT", "abc1234def56")
    app, _ = create_base_app(Settings.from_env("probe", {"JWT_SECRET": "x" * 40}), title="probe", release="2.3.4")
    body = finish_app(app).test_client().get("/healthz").get_json()
    assert body == {"status": "ok", "service": "probe", "version": "2.3.4", "commit": "abc1234def56"}


def test_without_a_stamp_the_commit_is_the_checkouts_or_unknown(monkeypatch, tmp_path):
    monkeypatch.delenv("GIT_COMMIT", raising=False)
    assert release.commit_of(str(tmp_path)) == release.UNKNOWN  # not a checkout
    here = release.commit_of()
    assert here == release.UNKNOWN or len(here) == 12


def test_the_version_is_read_from_the_one_place(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndynamic = ["version"]\n'
                                             '[tool.setuptools.dynamic]\nversion = {attr = "pkg_x.__version__"}\n')
    (tmp_path / "src" / "pkg_x").mkdir(parents=True)
    (tmp_path / "src" / "pkg_x" / "__init__.py").write_text('"""x."""\n\n__version__ = "1.2.3"  # here\n')
    assert release.project_version(tmp_path) == "1.2.3"
