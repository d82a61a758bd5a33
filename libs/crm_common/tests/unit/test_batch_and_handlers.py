"""The batch-status rule and the event-handler registry: pure functions, no I/O."""
import pytest

from crm_common.batch import batch_status
from crm_common.events import EventHandlers


@pytest.mark.parametrize("ok, failed, success, expected", [
    (3, 0, 201, 201), (3, 0, 200, 200), (2, 1, 201, 207), (1, 5, 200, 207), (0, 4, 201, 400), (0, 1, 200, 400),
])
def test_every_batch_endpoint_answers_by_one_rule(ok, failed, success, expected):
    assert batch_status(ok, failed, success_status=success) == expected


def test_handlers_are_registered_next_to_the_event_types_they_handle():
    handlers, seen = EventHandlers(), []

    @handlers.on("viewing.recorded", "viewing.updated")
    def apply_viewing(uow, event):
        seen.append((uow, event["event_type"]))

    assert handlers.bindings == ["viewing.recorded", "viewing.updated"]
    handlers("uow", {"event_type": "viewing.updated"})
    handlers("uow", {"event_type": "customer.created"})  # bound wider than handled: ignored
    assert seen == [("uow", "viewing.updated")]
    with pytest.raises(ValueError):
        handlers.on("viewing.recorded")(lambda uow, event: None)
    with pytest.raises(ValueError):
        handlers.on("no.such.type")(lambda uow, event: None)
