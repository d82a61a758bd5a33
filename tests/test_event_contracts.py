"""Event contracts across services (issue 23): every producer's committed JSON Schemas are what
its declarations generate (``make event-schemas``), and every change since the producer's last
release is additive (scripts/check_event_compat.py), naming the consumers a break would hurt."""
from __future__ import annotations

import copy
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from crm_testing import repo_root

ROOT = repo_root()
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@test.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@test.invalid"}


def _script(name: str):
    sys.path.insert(0, str(ROOT / "scripts"))
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


schemas = _script("event_schemas")
compat = _script("check_event_compat")


def test_the_committed_event_schemas_are_what_the_declarations_generate():
    assert schemas.stale() == [], "run make event-schemas"


def test_every_event_schema_change_since_the_last_release_is_additive():
    breaks = compat.check()
    assert not breaks, "\n".join(map(str, breaks))


def test_every_released_event_type_has_a_consumer_example_and_every_example_a_released_schema():
    examples = compat.load_examples()
    for producer in schemas.PRODUCERS:
        for path in (ROOT / producer / "contracts" / "events").glob("*.json"):
            event_type = path.name.rsplit(".", 2)[0]
            assert any(e["producer"] == producer and e["event_type"] == event_type for e in examples), \
                f"no consumer keeps an example of {event_type}"
    for example in examples:
        assert (ROOT / example["producer"] / "contracts" / "events"
                / f"{example['event_type']}.v{example['version']}.json").exists(), example["path"]


# --- the checker itself, on a scratch repository -----------------------------------------------

def git(cwd: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=60, env=GIT_ENV)


@pytest.fixture
def scratch(tmp_path):
    """Producers' released and current schemas and every consumer's examples, in a git repo."""
    for producer in schemas.PRODUCERS:
        for sub in ("contracts/events", "contracts/released"):
            shutil.copytree(ROOT / producer / "contracts" / "events", tmp_path / producer / sub)
    for source in ROOT.glob(compat.EXAMPLES_GLOB):
        target = tmp_path / source.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "baseline")
    return tmp_path


def edit(root: Path, producer: str, name: str, change) -> None:
    path = root / producer / "contracts" / "events" / name
    schema = json.loads(path.read_text(encoding="utf-8"))
    change(schema)
    path.write_text(json.dumps(schema, indent=2), encoding="utf-8")


def data_of(schema: dict) -> dict:
    return schema["properties"]["data"]


def test_a_removed_field_fails_naming_the_field_and_the_consumers_relying_on_it(scratch):
    edit(scratch, "customer-service", "customer.updated.v1.json", lambda s: data_of(s)["properties"].pop("name"))
    [found] = compat.check(scratch)
    assert (found.schema, found.field, found.problem) == ("customer.updated.v1.json", "data.name", "was removed or renamed")
    assert found.consumers == ("analytics-service", "sync-worker", "webhook-service")  # viewing-service reads no name
    assert "'data.name'" in str(found) and "sync-worker" in str(found)


def test_narrowed_types_and_values_new_required_fields_and_lost_versions_fail(scratch):
    def narrow(s):
        data = data_of(s)
        data["properties"]["company_id"]["type"] = "integer"           # was integer | null
        data["properties"]["status"]["enum"] = ["active"]              # lost values
        data["required"] = sorted(set(data["required"]) | {"email"})  # newly required
    edit(scratch, "customer-service", "customer.created.v1.json", narrow)
    (scratch / "viewing-service" / "contracts" / "events" / "viewing.updated.v1.json").unlink()
    found = {(b.schema, b.field): b for b in compat.check(scratch)}
    assert "narrowed its type" in found[("customer.created.v1.json", "data.company_id")].problem
    assert "no longer" in found[("customer.created.v1.json", "data.status")].problem
    assert found[("customer.created.v1.json", "data.email")].problem == "became required"
    gone = found[("viewing.updated.v1.json", "(the event)")]
    assert gone.consumers == ("analytics-service", "customer-service", "webhook-service")


def test_added_optional_fields_and_widened_types_pass(scratch):
    def widen(s):
        data = data_of(s)
        data["properties"]["loyalty_tier"] = {"type": ["string", "null"]}
        data["properties"]["customer_code"]["type"] = ["string", "null"]
        data["properties"]["status"].pop("enum", None)
    edit(scratch, "customer-service", "customer.updated.v1.json", widen)
    edit(scratch, "analytics-service", "order.updated.v1.json", lambda s: data_of(s)["properties"]["total_amount"]
         .update(type="number"))
    assert compat.check(scratch) == []


def test_the_baseline_is_the_last_release_tag_when_there_is_one(scratch):
    # Released with a field that the committed baseline copy no longer has: the tag wins.
    edit(scratch, "analytics-service", "order.recorded.v1.json",
         lambda s: data_of(s)["properties"].update(channel={"type": "string"}))
    git(scratch, "commit", "-qam", "order.recorded gains channel")
    git(scratch, "tag", "analytics-service-v1.0.0")
    edit(scratch, "analytics-service", "order.recorded.v1.json", lambda s: data_of(s)["properties"].pop("channel"))
    [found] = compat.check(scratch)
    assert (found.field, found.baseline) == ("data.channel", "analytics-service-v1.0.0")


def test_the_compare_rules_on_nested_references():
    old = {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/Line"}}},
           "$defs": {"Line": {"type": "object", "properties": {"qty": {"type": "number"}}}}}
    new = copy.deepcopy(old)
    new["$defs"]["Line"]["properties"]["qty"]["type"] = "integer"
    assert compat.compare(old, new) == [("items[].qty", "narrowed its type from ['integer', 'number'] to ['integer']")]
