"""The events analytics publishes: their contracts (analytics_service/contracts.py) and the
JSON Schemas committed beside the service for their consumers, which must never drift."""
from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from analytics_service.cli import PROJECT_DIR
from analytics_service.contracts import CATALOG


def test_the_committed_event_schemas_are_the_contracts(tmp_path):
    CATALOG.write(tmp_path)
    committed = sorted((PROJECT_DIR / "contracts" / "events").glob("*.json"))
    assert [p.name for p in committed] == sorted(p.name for p in tmp_path.glob("*.json"))
    for path in committed:
        assert path.read_text(encoding="utf-8") == (tmp_path / path.name).read_text(encoding="utf-8"), \
            f"{path.name} is stale: run make event-schemas"
        schema = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(schema)
        [example] = schema["examples"]
        assert not list(Draft202012Validator(schema).iter_errors(example))
        CATALOG.validate(example)
