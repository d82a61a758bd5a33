#!/usr/bin/env python3
"""Are the event schemas still readable by every consumer? (issue 23; tests/test_event_contracts.py
runs this in ``make test``.)

Each producer's committed schemas (``<producer>/contracts/events/<type>.v<major>.json``) are
compared with the same files at the producer's last release: the tag ``<producer>-v<X.Y.Z>``
(``git show <tag>:<path>``), or, before its first tag or when the tag predates the file, the
baseline copy committed in ``<producer>/contracts/released/`` (``make release`` refreshes it).

Within a major version only additive changes pass: a field (at any depth, envelope or
``data``) may be added, never removed or renamed; a type, enum or format may widen, never
narrow; no field may become required; a released major version may not disappear (publish
``.v2`` beside ``.v1`` until every consumer moved). Each failure names the field and the
consumers whose example events rely on it: every consumer keeps, in
``<consumer>/tests/contracts/events/*.json``, the events it reads and the fields it relies on
(``relies_on``).

    scripts/check_event_compat.py           # exit 1 with one line per breaking change
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from event_schemas import PRODUCERS, RELEASED_DIR, SCHEMA_DIR  # noqa: E402
from release import last_tag  # noqa: E402

EXAMPLES_GLOB = "*/tests/contracts/events/*.json"


@dataclass(frozen=True)
class Break:
    producer: str
    schema: str            # file name, e.g. customer.updated.v1.json
    field: str             # dotted path, e.g. data.name
    problem: str
    baseline: str          # where the released schema came from
    consumers: tuple[str, ...] = ()

    def __str__(self) -> str:
        who = ", ".join(self.consumers) if self.consumers else "no consumer example names it"
        return (f"{self.producer} {self.schema}: field '{self.field}' {self.problem} "
                f"(against {self.baseline}); consumers relying on it: {who}")


# --- comparing two schemas -------------------------------------------------------------------

def _resolve(node: dict, root: dict) -> dict:
    seen = 0
    while isinstance(node, dict) and "$ref" in node and seen < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            break
        target = root
        for part in ref[2:].split("/"):
            target = target.get(part, {})
        node, seen = target, seen + 1
    return node if isinstance(node, dict) else {}


def _types(node: dict) -> set[str] | None:
    """The JSON types a node admits (None: any)."""
    if "type" not in node:
        if "const" in node:
            return {type(node["const"]).__name__}
        return None
    kind = node["type"]
    types = set(kind) if isinstance(kind, list) else {kind}
    if "number" in types:
        types.add("integer")  # a number admits every integer
    return types


def compare(old: dict, new: dict, *, old_root: dict | None = None, new_root: dict | None = None,
            path: str = "") -> list[tuple[str, str]]:
    """``(field, problem)`` for every change from ``old`` to ``new`` that a reader of ``old`` could trip on."""
    old_root, new_root = old_root if old_root is not None else old, new_root if new_root is not None else new
    old, new = _resolve(old, old_root), _resolve(new, new_root)
    here = path or "(the event)"
    found: list[tuple[str, str]] = []
    old_types, new_types = _types(old), _types(new)
    if new_types is not None and (old_types is None or not old_types <= new_types):
        found.append((here, f"narrowed its type from {sorted(old_types) if old_types else 'any'} "
                            f"to {sorted(new_types - {'integer'} if 'number' in new_types else new_types)}"))
    if "enum" in new and ("enum" not in old or not set(map(json.dumps, old["enum"])) <= set(map(json.dumps, new["enum"]))):
        lost = [v for v in old.get("enum", []) if v not in new["enum"]]
        found.append((here, f"narrowed its allowed values (no longer {lost})" if lost else "gained an enum"))
    if "const" in new and old.get("const") != new["const"]:
        found.append((here, f"changed its constant from {old.get('const')!r} to {new['const']!r}"))
    if new.get("format") and old.get("format") != new.get("format"):
        found.append((here, f"changed its format from {old.get('format')!r} to {new['format']!r}"))
    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    for name in sorted(old_props):
        child = f"{path}.{name}" if path else name
        if name not in new_props:
            found.append((child, "was removed or renamed"))
        else:
            found += compare(old_props[name], new_props[name], old_root=old_root, new_root=new_root, path=child)
    for name in sorted(set(new.get("required", [])) - set(old.get("required", []))):
        child = f"{path}.{name}" if path else name
        found.append((child, "became required" if name in old_props else "is new and required"))
    if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
        found += compare(old["items"], new["items"], old_root=old_root, new_root=new_root, path=f"{path}[]")
    return found


# --- consumers' examples ---------------------------------------------------------------------

def load_examples(root: Path = ROOT) -> list[dict]:
    """Every consumer's example events, each with ``consumer`` (its directory) added."""
    examples = []
    for path in sorted(root.glob(EXAMPLES_GLOB)):
        example = json.loads(path.read_text(encoding="utf-8"))
        example["consumer"] = path.relative_to(root).parts[0]
        example["path"] = str(path.relative_to(root))
        examples.append(example)
    return examples


def _overlaps(a: str, b: str) -> bool:
    a, b = a.replace("[]", ""), b.replace("[]", "")
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def consumers_of(examples: list[dict], producer: str, schema_name: str, field: str) -> tuple[str, ...]:
    event_type, version = schema_name.rsplit(".", 2)[0], int(schema_name.rsplit(".", 2)[1][1:])
    return tuple(sorted({e["consumer"] for e in examples
                         if e["producer"] == producer and e["event_type"] == event_type
                         and int(e.get("version", 1)) == version
                         and (field == "(the event)" or any(_overlaps(field, f) for f in e["relies_on"]))}))


# --- the released baseline -------------------------------------------------------------------

def _git(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=60)


def released_schemas(producer: str, root: Path = ROOT) -> tuple[str, dict[str, dict]]:
    """(where from, file name -> schema) of the producer's last release."""
    tag = last_tag(producer, root)
    directory = f"{producer}/{SCHEMA_DIR.as_posix()}"
    if tag:
        listed = _git(root, "ls-tree", "--name-only", f"{tag}:{directory}")
        names = [n for n in listed.stdout.split() if n.endswith(".json")] if listed.returncode == 0 else []
        if names:
            return tag, {n: json.loads(_git(root, "show", f"{tag}:{directory}/{n}").stdout) for n in names}
    released = root / producer / RELEASED_DIR
    return (f"{producer}/{RELEASED_DIR.as_posix()}",
            {p.name: json.loads(p.read_text(encoding="utf-8")) for p in sorted(released.glob("*.json"))})


def check(root: Path = ROOT) -> list[Break]:
    examples = load_examples(root)
    breaks: list[Break] = []
    for producer in PRODUCERS:
        baseline, old_schemas = released_schemas(producer, root)
        current = root / producer / SCHEMA_DIR
        for name, old in old_schemas.items():
            path = current / name
            if not path.exists():
                breaks.append(Break(producer, name, "(the event)", "is a released major version that disappeared",
                                    baseline, consumers_of(examples, producer, name, "(the event)")))
                continue
            new = json.loads(path.read_text(encoding="utf-8"))
            for field, problem in compare(old, new):
                breaks.append(Break(producer, name, field, problem, baseline,
                                    consumers_of(examples, producer, name, field)))
    return breaks


def main() -> int:
    breaks = check()
    for b in breaks:
        print(b, file=sys.stderr)
    if breaks:
        print(f"{len(breaks)} breaking change(s): within a major version only add optional fields; "
              "for anything else publish <type>.v<major+1> beside the old one.", file=sys.stderr)
    else:
        print("event schemas: every change since the last release is additive")
    return 1 if breaks else 0


if __name__ == "__main__":
    sys.exit(main())
