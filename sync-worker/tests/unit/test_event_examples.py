"""The events sync-worker relies on (tests/contracts/events/*.json), checked against their producers'
published JSON Schemas (issue 23): a producer's change that breaks them fails here and in
scripts/check_event_compat.py, which names this service."""
from __future__ import annotations

from crm_testing.event_contracts import check_examples

EXPECTED = {"customer.created", "customer.updated", "customer.deleted"}


def test_the_example_events_this_service_relies_on_match_their_producers_schemas():
    examples = check_examples("sync-worker")
    assert {e["event_type"] for e in examples} >= EXPECTED

