"""What a running process reports about itself (``/healthz``): its package's version and the
commit it was built from.

- **version**: the package's ``__version__`` (its one place: ``<package>/__init__.py``;
  ``pyproject.toml`` reads it as a dynamic version, ``make release`` bumps it);
- **commit**: ``GIT_COMMIT`` from the environment (the images are built with
  ``--build-arg GIT_COMMIT=…``, deploy/docker/build.sh), else ``git rev-parse`` when the
  package runs from a checkout, else ``"unknown"``.
"""
from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

VERSION_LINE = re.compile(r'^__version__ = "(?P<version>[^"]+)"', re.M)
UNKNOWN = "unknown"


@functools.lru_cache(maxsize=None)
def commit_of(path: str | None = None) -> str:
    """The commit this code came from (short hash), read once per process."""
    stamped = os.environ.get("GIT_COMMIT", "").strip()
    if stamped:
        return stamped
    cwd = Path(path) if path else Path(__file__).resolve().parent
    if not cwd.is_dir():
        cwd = cwd.parent
    try:
        done = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=cwd, capture_output=True,
                              text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return UNKNOWN
    out = done.stdout.strip()
    return out if done.returncode == 0 and re.fullmatch(r"[0-9a-f]{7,40}", out) else UNKNOWN


def read_version(init_file: Path) -> str:
    """``__version__`` of a package's ``__init__.py``, without importing it (scripts, tests)."""
    match = VERSION_LINE.search(Path(init_file).read_text(encoding="utf-8"))
    if not match:
        raise ValueError(f"{init_file}: no __version__ line")
    return match.group("version")


def version_file(project_dir: Path) -> Path:
    """The ``__init__.py`` holding a project's version: the module its ``pyproject.toml`` names
    in ``[tool.setuptools.dynamic] version = {attr = "<module>.__version__"}``."""
    import tomllib
    project_dir = Path(project_dir)
    with open(project_dir / "pyproject.toml", "rb") as f:
        attr = tomllib.load(f)["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    module = attr.rsplit(".", 1)[0]
    for root in (project_dir, project_dir / "src"):
        candidate = root.joinpath(*module.split(".")) / "__init__.py"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{project_dir}: no {module}/__init__.py")


def project_version(project_dir: Path) -> str:
    """A project's version, read from its one place (no import, no installed metadata)."""
    return read_version(version_file(project_dir))
