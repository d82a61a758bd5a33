#!/usr/bin/env python3
"""The JSON Schema of every event type each producer emits, generated from its declarations
(``crm_common.contracts.EventCatalog``) into ``<producer>/contracts/events/<type>.v<major>.json``.

    make event-schemas                       # regenerate every producer's files
    scripts/event_schemas.py --check         # exit 1 naming each file that differs (a test runs this)

The files are committed: consumers validate the example events they keep in their tests
against them, and ``scripts/check_event_compat.py`` compares them with the last release's.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# producer directory -> the module holding its ``CATALOG``.
PRODUCERS = {
    "customer-service": "customer_service.events",
    "viewing-service": "viewing_service.service_layer.events",
    "analytics-service": "analytics_service.contracts",
}
SCHEMA_DIR = Path("contracts") / "events"
RELEASED_DIR = Path("contracts") / "released"


def catalog(producer: str):
    return importlib.import_module(PRODUCERS[producer]).CATALOG


def generated(producer: str) -> dict[str, str]:
    """file name -> text, as ``EventCatalog.write`` renders them."""
    with tempfile.TemporaryDirectory() as tmp:
        return {p.name: p.read_text(encoding="utf-8") for p in catalog(producer).write(Path(tmp))}


def stale(root: Path = ROOT) -> list[str]:
    """Every committed schema file that is not what the declarations generate (or is missing)."""
    problems = []
    for producer in PRODUCERS:
        directory = root / producer / SCHEMA_DIR
        want = generated(producer)
        have = {p.name: p.read_text(encoding="utf-8") for p in directory.glob("*.json")} if directory.is_dir() else {}
        for name in sorted(set(want) | set(have)):
            if name not in have:
                problems.append(f"{producer}/{SCHEMA_DIR}/{name}: missing")
            elif name not in want:
                problems.append(f"{producer}/{SCHEMA_DIR}/{name}: no declaration generates it")
            elif have[name] != want[name]:
                problems.append(f"{producer}/{SCHEMA_DIR}/{name}: differs from its declaration")
    return problems


def write(root: Path = ROOT) -> list[Path]:
    written = []
    for producer in PRODUCERS:
        directory = root / producer / SCHEMA_DIR
        for old in directory.glob("*.json"):
            old.unlink()
        written += catalog(producer).write(directory)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/event_schemas.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 when a file is stale")
    args = parser.parse_args(argv)
    if args.check:
        problems = stale()
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("run: make event-schemas", file=sys.stderr)
        return 1 if problems else 0
    for path in write():
        print(path.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
