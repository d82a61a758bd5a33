#!/usr/bin/env python3
"""Image build step: make ``<service> migrate`` find its Alembic files in a wheel install.

A service's CLI looks for ``alembic.ini`` and ``migrations/`` in ``SERVICE_DIR`` (its
package's parent directory: the project directory in a checkout, ``site-packages`` once
installed from a wheel). The image copies both to ``/app/<service>/`` and this links them
where ``SERVICE_DIR`` points, so the same command works in a checkout and in the image.

Usage: place-migrations.py <cli module> <directory holding alembic.ini and migrations/>"""
import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    module_name, source = argv[0], Path(argv[1]).resolve()
    service_dir = Path(importlib.import_module(module_name).SERVICE_DIR).resolve()
    for name in ("alembic.ini", "migrations"):
        if not (source / name).exists():
            print(f"missing {source / name}", file=sys.stderr)
            return 1
        target = service_dir / name
        if target.resolve() == (source / name).resolve():
            continue  # already there (a checkout, or an earlier run)
        if target.exists() or target.is_symlink():
            print(f"refusing to replace {target}", file=sys.stderr)
            return 1
        target.symlink_to(source / name)
        print(f"{target} -> {source / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
