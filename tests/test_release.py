"""Versions and releases (issue 23): each package's version has one place, reported by
``/healthz`` and stamped into its image tags; ``make release`` (scripts/release.py) bumps,
writes the changelog from the commits that touched the service, and tags — tried on a
temporary clone, never on this repository."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from crm_common.release import project_version
from crm_testing import repo_root

ROOT = repo_root()
SERVICES = ["customer-service", "viewing-service", "analytics-service", "sync-worker", "webhook-service",
            "token-issuer", "gateway"]
GIT_ENV = {"GIT_AUTHOR_NAME": "release test", "GIT_AUTHOR_EMAIL": "release@test.invalid",
           "GIT_COMMITTER_NAME": "release test", "GIT_COMMITTER_EMAIL": "release@test.invalid"}


def git(cwd: Path, *args: str) -> str:
    import os
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **GIT_ENV}).stdout


@pytest.mark.parametrize("project", SERVICES + ["libs/crm_common"])
def test_the_version_has_one_place_which_pyproject_reads(project):
    with open(ROOT / project / "pyproject.toml", "rb") as f:
        meta = tomllib.load(f)["project"]
    assert "version" not in meta and "version" in meta["dynamic"], f"{project}: the version lives in __version__ only"
    assert re.fullmatch(r"\d+\.\d+\.\d+", project_version(ROOT / project))


@pytest.mark.parametrize("service", SERVICES)
def test_the_kubernetes_image_tag_is_the_package_version(service):
    kustomization = yaml.safe_load((ROOT / "deploy/k8s" / service / "base/kustomization.yaml").read_text())
    [image] = [i for i in kustomization["images"] if i["name"] == f"crm/{service}"]
    assert image["newTag"] == project_version(ROOT / service), f"run make release SERVICE={service}"
    for overlay in (ROOT / "deploy/k8s" / service / "overlays").glob("*/kustomization.yaml"):
        images = yaml.safe_load(overlay.read_text()).get("images") or []
        assert all(i.get("newTag") in (None, project_version(ROOT / service)) for i in images), overlay


@pytest.fixture
def clone(tmp_path):
    """This checkout's committed HEAD, cloned: releases are tried there."""
    target = tmp_path / "repo"
    subprocess.run(["git", "clone", "-q", "--no-hardlinks", str(ROOT), str(target)], check=True, timeout=120,
                   capture_output=True)
    return target


def release(clone: Path, service: str, version: str) -> subprocess.CompletedProcess:
    import os
    return subprocess.run([sys.executable, str(clone / "scripts/release.py"), service, version], cwd=clone,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **GIT_ENV})


def commit_touching(clone: Path, path: str, subject: str) -> str:
    file = clone / path
    file.write_text(subject + "\n", encoding="utf-8")
    git(clone, "add", path)
    git(clone, "commit", "-q", "-m", subject)
    return git(clone, "rev-parse", "--short", "HEAD").strip()


def test_make_release_bumps_writes_the_changelog_stamps_the_images_commits_and_tags(clone):
    service = "customer-service"
    before = project_version(clone / service)
    major = int(before.split(".")[0]) + 1          # above whatever main is at (tags included)
    v1, v2 = f"{major}.0.0", f"{major}.1.0"
    mine = commit_touching(clone, f"{service}/NOTE-A.txt", "customer-service: first change")
    first = release(clone, service, v1)
    assert first.returncode == 0, first.stderr
    assert project_version(clone / service) == v1 != before
    assert f"customer-service-v{v1}" in git(clone, "tag", "--list", "customer-service-v*").split()
    assert git(clone, "log", "-1", "--format=%s").strip() == f"release customer-service {v1}"
    assert git(clone, "status", "--porcelain").strip() == ""
    changelog = (clone / service / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {v1}" in changelog and f"customer-service: first change ({mine})" in changelog
    assert f'newTag: "{v1}"' in (clone / "deploy/k8s/customer-service/base/kustomization.yaml").read_text()
    compose = (clone / "docker-compose.yml").read_text()
    assert f"crm/customer-service:{v1}" in compose and f"crm/customer-service:{before}" not in compose
    assert f"crm/viewing-service:{project_version(clone / 'viewing-service')}" in compose  # others untouched

    # The next release lists only what touched the service since its last tag.
    commit_touching(clone, "viewing-service/NOTE-B.txt", "viewing-service: not ours")
    ours = commit_touching(clone, f"{service}/NOTE-C.txt", "customer-service: second change")
    second = release(clone, service, v2)
    assert second.returncode == 0, second.stderr
    changelog = (clone / service / "CHANGELOG.md").read_text(encoding="utf-8")
    newest = changelog.split(f"## {v2}", 1)[1].split(f"## {v1}", 1)[0]
    assert f"customer-service: second change ({ours})" in newest and f"since customer-service-v{v1}" in newest
    assert "not ours" not in changelog and "first change" not in newest
    assert changelog.index(f"## {v2}") < changelog.index(f"## {v1}")
    assert project_version(clone / "viewing-service") == project_version(ROOT / "viewing-service")


def test_make_release_refuses_a_lower_version_a_dirty_tree_and_an_unknown_service(clone):
    current = project_version(clone / "sync-worker")
    assert "must be above" in release(clone, "sync-worker", current).stderr
    (clone / "sync-worker" / "DIRTY.txt").write_text("x")
    assert "uncommitted" in release(clone, "sync-worker", "9.0.0").stderr
    assert release(clone, "no-such-service", "9.0.0").returncode != 0
    assert git(clone, "tag", "--list", "sync-worker-v9*").strip() == ""
