#!/usr/bin/env python3
"""Release one service (or the shared library) on its own: ``make release SERVICE=… VERSION=…``.

    scripts/release.py customer-service 1.2.0            # bump, changelog, image tags, commit, tag
    scripts/release.py customer-service 1.2.0 --dry-run  # print what would change, change nothing

In one commit (``release <service> <version>``), tagged ``<service>-v<version>``:

1. the package's ``__version__`` (its one place; ``pyproject.toml`` reads it) becomes VERSION;
2. ``<service>/CHANGELOG.md`` gets an entry listing every commit that touched the service's
   directory since its last tag (``<service>-v*``; all of them for a first release);
3. a producer's event schemas are copied to ``<service>/contracts/released/`` (the baseline of
   scripts/check_event_compat.py);
4. the image tag follows: ``deploy/k8s/<service>/base/kustomization.yaml`` (``images: newTag``,
   which every overlay of the service inherits) and ``docker-compose.yml`` (``crm/<service>:…``).

The working tree must be clean, VERSION must be ``X.Y.Z`` and above the current version.
Nothing is pushed: ``git push origin HEAD <service>-v<version>`` is the team's next step.
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "libs" / "crm_common"))  # runs without the venv's editable install too

from crm_common.release import VERSION_LINE, read_version, version_file  # noqa: E402

# What can be released on its own: its directory, and the tag prefix / image name.
RELEASABLE = {
    "customer-service": "customer-service", "viewing-service": "viewing-service",
    "analytics-service": "analytics-service", "sync-worker": "sync-worker",
    "webhook-service": "webhook-service", "token-issuer": "token-issuer", "gateway": "gateway",
    "crm-common": "libs/crm_common",
}
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def git(*args: str, root: Path = ROOT) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def version_key(version: str) -> tuple[int, int, int]:
    match = SEMVER.match(version)
    if not match:
        raise SystemExit(f"version {version!r} is not X.Y.Z")
    return tuple(int(p) for p in match.groups())


def last_tag(service: str, root: Path = ROOT) -> str | None:
    tags = [t for t in git("tag", "--list", f"{service}-v*", root=root).split() if SEMVER.match(t[len(service) + 2:])]
    return max(tags, key=lambda t: version_key(t[len(service) + 2:]), default=None)


def commits_since(tag: str | None, directory: str, root: Path = ROOT) -> list[str]:
    """``<subject> (<short hash>)`` of every commit touching ``directory`` since ``tag``, newest first."""
    revs = f"{tag}..HEAD" if tag else "HEAD"
    out = git("log", "--no-merges", "--format=%s (%h)", revs, "--", directory, root=root)
    return [line for line in out.splitlines() if line.strip()]


def changelog_entry(service: str, version: str, tag: str | None, commits: list[str], today: dt.date) -> str:
    since = f"since {tag}" if tag else "first release"
    lines = [f"## {version} — {today.isoformat()}", "", f"Commits touching {RELEASABLE[service]}/ ({since}):", ""]
    lines += [f"- {c}" for c in commits] or ["- (no commit touched the service: a re-tag)"]
    return "\n".join(lines) + "\n"


def write_changelog(path: Path, service: str, entry: str) -> None:
    head = f"# {service} changelog\n\nWritten by `make release SERVICE={service} VERSION=…` (scripts/release.py).\n"
    text = path.read_text(encoding="utf-8") if path.exists() else head
    marker = text.find("\n## ")
    if marker == -1:
        text = text.rstrip("\n") + "\n\n" + entry
    else:
        text = text[:marker + 1] + entry + "\n" + text[marker + 1:]
    path.write_text(text, encoding="utf-8")


def stamp_images(service: str, version: str, root: Path = ROOT) -> list[Path]:
    """The image tag wherever the service's image is named: its Kubernetes base and compose."""
    changed = []
    kustomization = root / "deploy" / "k8s" / service / "base" / "kustomization.yaml"
    if kustomization.exists():
        text = kustomization.read_text(encoding="utf-8")
        new = re.sub(rf'(- name: crm/{re.escape(service)}\n\s+newTag: )"[^"]*"', rf'\g<1>"{version}"', text)
        if new != text:
            kustomization.write_text(new, encoding="utf-8")
            changed.append(kustomization)
    compose = root / "docker-compose.yml"
    if compose.exists():
        text = compose.read_text(encoding="utf-8")
        new = re.sub(rf"(image: crm/{re.escape(service)}):[\w.\-]+", rf"\1:{version}", text)
        if new != text:
            compose.write_text(new, encoding="utf-8")
            changed.append(compose)
    return changed


def snapshot_event_schemas(directory: str, root: Path = ROOT) -> list[Path]:
    """A producer's event schemas as released (``contracts/released/``): the baseline
    scripts/check_event_compat.py falls back to when no tag holds them."""
    schemas = root / directory / "contracts" / "events"
    if not schemas.is_dir():
        return []
    released = root / directory / "contracts" / "released"
    released.mkdir(exist_ok=True)
    for old in released.glob("*.json"):
        old.unlink()
    for path in sorted(schemas.glob("*.json")):
        (released / path.name).write_bytes(path.read_bytes())
    return [released]


def release(service: str, version: str, *, root: Path = ROOT, dry_run: bool = False,
            today: dt.date | None = None) -> str:
    if service not in RELEASABLE:
        raise SystemExit(f"unknown service {service!r}; one of: {', '.join(RELEASABLE)}")
    directory = RELEASABLE[service]
    init = version_file(root / directory)
    current = read_version(init)
    if version_key(version) <= version_key(current):
        raise SystemExit(f"{service} is at {current}: VERSION must be above it (got {version})")
    tag_name = f"{service}-v{version}"
    if git("tag", "--list", tag_name, root=root).strip():
        raise SystemExit(f"tag {tag_name} exists already")
    previous = last_tag(service, root)
    commits = commits_since(previous, directory, root)
    entry = changelog_entry(service, version, previous, commits, today or dt.date.today())
    if dry_run:
        print(f"{service}: {current} -> {version} (tag {tag_name})\n\n{entry}")
        return tag_name
    if git("status", "--porcelain", root=root).strip():
        raise SystemExit("the working tree has uncommitted changes: commit or stash them first")
    text = init.read_text(encoding="utf-8")
    init.write_text(VERSION_LINE.sub(f'__version__ = "{version}"', text, count=1), encoding="utf-8")
    changelog = root / directory / "CHANGELOG.md"
    write_changelog(changelog, service, entry)
    changed = [init, changelog, *stamp_images(service, version, root), *snapshot_event_schemas(directory, root)]
    git("add", "--", *[str(p.relative_to(root)) for p in changed], root=root)
    git("commit", "-q", "-m", f"release {service} {version}", "-m", entry, root=root)
    git("tag", "-a", tag_name, "-m", f"{service} {version}", root=root)
    print(f"{service} {version}: committed and tagged {tag_name} "
          f"({len(commits)} commit(s) in the changelog). Next: git push origin HEAD {tag_name}")
    return tag_name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/release.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("service", choices=sorted(RELEASABLE))
    parser.add_argument("version", help="X.Y.Z, above the current version")
    parser.add_argument("--dry-run", action="store_true", help="print the changelog entry, change nothing")
    args = parser.parse_args(argv)
    release(args.service, args.version, dry_run=args.dry_run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
