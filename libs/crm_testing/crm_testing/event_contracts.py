"""Consumers' side of the event contracts (issue 23).

Each consumer keeps, in ``<consumer>/tests/contracts/events/<event_type>.json``, the events it
relies on, as it reads them::

    {"producer": "customer-service", "event_type": "customer.updated", "version": 1,
     "why": "…", "relies_on": ["aggregate_version", "data.name", …], "event": {…the whole message…}}

``check_examples(consumer)`` validates every ``event`` against the producer's published JSON
Schema (``<producer>/contracts/events/<type>.v<version>.json``) and checks that each field in
``relies_on`` is in the example and declared by that schema. ``scripts/check_event_compat.py``
names these consumers when a producer's change would break a field they rely on."""
from __future__ import annotations

import json
from pathlib import Path

from jsonschema import Draft202012Validator

from . import repo_root


def examples_of(consumer: str, root: Path | None = None) -> list[tuple[Path, dict]]:
    directory = (root or repo_root()) / consumer / "tests" / "contracts" / "events"
    return [(p, json.loads(p.read_text(encoding="utf-8"))) for p in sorted(directory.glob("*.json"))]


def producer_schema(producer: str, event_type: str, version: int, root: Path | None = None) -> dict:
    path = (root or repo_root()) / producer / "contracts" / "events" / f"{event_type}.v{version}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def _declared(schema: dict, path: str) -> bool:
    node = schema
    for part in path.split("."):
        while "$ref" in node:
            node = schema.get("$defs", {}).get(node["$ref"].rsplit("/", 1)[-1], {})
        properties = node.get("properties")
        if properties is None or part not in properties:
            return False
        node = properties[part]
    return True


def _present(event: dict, path: str) -> bool:
    node = event
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def problems_of(consumer: str, root: Path | None = None) -> list[str]:
    problems = []
    for path, example in examples_of(consumer, root):
        event = example["event"]
        where = f"{consumer}/{path.name}"
        if (event.get("event_type"), event.get("producer")) != (example["event_type"], example["producer"]):
            problems.append(f"{where}: the event is not a {example['event_type']} of {example['producer']}")
        schema = producer_schema(example["producer"], example["event_type"], int(example["version"]), root)
        for error in Draft202012Validator(schema).iter_errors(event):
            problems.append(f"{where}: {'.'.join(map(str, error.absolute_path)) or '(event)'}: {error.message}")
        for field in example["relies_on"]:
            if not _present(event, field):
                problems.append(f"{where}: relies on {field}, which the example lacks")
            if not _declared(schema, field):
                problems.append(f"{where}: relies on {field}, which {example['producer']} does not declare")
    return problems


def check_examples(consumer: str, root: Path | None = None) -> list[dict]:
    """Every example event of ``consumer`` (AssertionError listing each problem)."""
    examples = examples_of(consumer, root)
    assert examples, f"{consumer} keeps no example events in tests/contracts/events"
    problems = problems_of(consumer, root)
    assert not problems, "\n".join(problems)
    return [example for _, example in examples]
