"""Every recorded consumer-driven HTTP contract (``<consumer>/contracts/pacts/<provider>.json``,
issue 23) is well formed, and its provider replays it in its own suite
(``<provider>/tests/integration/test_consumer_contracts.py``)."""
from __future__ import annotations

import json

import pytest

from crm_testing import repo_root
from crm_testing.http_contracts import JSON_TYPES, PLACEHOLDER

ROOT = repo_root()
PACTS = sorted(ROOT.glob("*/contracts/pacts/*.json"))


def test_the_internal_callers_record_their_calls():
    assert {(p.parent.parent.parent.name, p.stem) for p in PACTS} >= {
        ("viewing-service", "customer-service"), ("analytics-service", "customer-service"),
        ("sync-worker", "customer-service"), ("customer-service", "analytics-service")}


@pytest.mark.parametrize("path", PACTS, ids=lambda p: f"{p.parent.parent.parent.name}->{p.stem}")
def test_a_recorded_contract_is_well_formed_and_replayed_by_its_provider(path):
    pact = json.loads(path.read_text(encoding="utf-8"))
    assert (pact["consumer"], pact["provider"]) == (path.parent.parent.parent.name, path.stem)
    assert (ROOT / pact["provider"] / "tests/integration/test_consumer_contracts.py").exists()
    provider_test = (ROOT / pact["provider"] / "tests/integration/test_consumer_contracts.py").read_text()
    for interaction in pact["interactions"]:
        request, response = interaction["request"], interaction["response"]
        assert request["method"] in ("GET", "POST", "PUT", "PATCH", "DELETE") and request["path"].startswith("/")
        assert isinstance(response["status"], int) and interaction["description"]
        for kinds in response.get("fields", {}).values():
            assert all(k in JSON_TYPES for k in kinds.split("|")), kinds
        if interaction.get("provider_state"):
            assert f'"{interaction["provider_state"]}"' in provider_test, interaction["provider_state"]
        for name in PLACEHOLDER.findall(json.dumps(request)):
            assert name == "factory" or interaction.get("provider_state"), f"{{{name}}} needs a provider state"
