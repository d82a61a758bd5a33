"""The event shape of CONTRACT §5, in one place for every producer and consumer."""
from __future__ import annotations

import datetime as dt
import decimal
import json
import uuid
from typing import Any, Callable, Iterable

# CONTRACT §5, plus order.updated: every later change of a recorded order (its status above
# all: an order is open until COMPLETED or CANCELLED; seed 001's order rules need to know).
EVENT_TYPES = frozenset({
    "customer.created", "customer.updated", "customer.deleted",
    "viewing.recorded", "viewing.updated", "order.recorded", "order.updated",
})
REQUIRED_KEYS = ("event_id", "event_type", "occurred_at", "producer", "aggregate_type",
                 "aggregate_id", "aggregate_version", "data")


class InvalidEvent(ValueError):
    """A message that can never be applied (bad JSON, missing keys): dead-letter it."""


def _default(value: Any):
    if isinstance(value, decimal.Decimal):
        # Integral amounts stay integers; others keep their exact decimal text as a float.
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool):
        return json.dumps(key)
    if isinstance(key, (int, float)):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def plain(value: Any) -> Any:
    """``json.loads(json_dumps(value))`` without writing and parsing the text: what an event
    carries (the same values, JSON's types). Writes make one event each, and the round trip
    was a measurable share of a write's CPU (issue 19)."""
    if value is None or isinstance(value, (str, int, float)):
        if type(value) in (str, int, float, bool) or value is None:
            return value
        return json.loads(json_dumps(value))  # a subclass (an enum): exactly as JSON has it
    if isinstance(value, dict):
        return {_key(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return plain(_default(value))


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=_default, ensure_ascii=False, separators=(",", ":"))


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def iso_z(moment: dt.datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(*, event_type: str, producer: str, aggregate_type: str, aggregate_id: Any,
               aggregate_version: int, data: dict, factory_id: str | None = None,
               trace_id: str | None = None, actor: dict | None = None,
               changed_fields: Iterable[str] = (), options: dict | None = None,
               occurred_at: dt.datetime | None = None, event_id: str | None = None) -> dict:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}: add it to CONTRACT §5 first")
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "event_type": event_type,
        "occurred_at": iso_z(occurred_at or utcnow()),
        "producer": producer,
        "aggregate_type": aggregate_type,
        "aggregate_id": str(aggregate_id),
        "aggregate_version": int(aggregate_version),
        "factory_id": factory_id,
        "trace_id": trace_id,
        "actor": actor or {},
        "changed_fields": sorted(changed_fields),
        "data": plain(data),
        "options": options or {},
    }


class EventHandlers:
    """Which handler applies which event type, declared next to the handlers (as nameko's
    ``@event_handler``)::

        handlers = EventHandlers()

        @handlers.on("viewing.recorded", "viewing.updated")
        def apply_viewing(uow, event): ...

    Calling the registry dispatches by ``event_type`` (a type nobody handles is ignored:
    the queue may be bound wider); ``bindings`` are the routing keys to bind the queue to."""

    def __init__(self):
        self._handlers: dict[str, Callable] = {}

    def on(self, *event_types: str):
        def register(handler: Callable) -> Callable:
            for event_type in event_types:
                if event_type not in EVENT_TYPES:
                    raise ValueError(f"unknown event type {event_type!r}: add it to CONTRACT §5 first")
                if event_type in self._handlers:
                    raise ValueError(f"{event_type} already handled by {self._handlers[event_type].__name__}")
                self._handlers[event_type] = handler
            return handler
        return register

    @property
    def bindings(self) -> list[str]:
        return sorted(self._handlers)

    def handles(self, event_type: str) -> bool:
        return event_type in self._handlers

    def __call__(self, uow, event: dict) -> None:
        handler = self._handlers.get(event["event_type"])
        if handler is not None:
            handler(uow, event)


def parse_event(body: bytes | str) -> dict:
    try:
        event = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidEvent(f"message is not JSON: {exc}") from exc
    if not isinstance(event, dict):
        raise InvalidEvent("message is not a JSON object")
    missing = [k for k in REQUIRED_KEYS if k not in event]
    if missing:
        raise InvalidEvent(f"event lacks {', '.join(missing)}")
    if not isinstance(event["aggregate_version"], int) or isinstance(event["aggregate_version"], bool):
        raise InvalidEvent("aggregate_version must be an integer")
    if not isinstance(event["data"], dict):
        raise InvalidEvent("data must be an object")
    return event
