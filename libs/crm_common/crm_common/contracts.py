"""Event contracts: what each producer promises about the ``data`` of every event type it
emits (CONTRACT §5 is the envelope; this is what is inside it).

A producer declares one ``EventContract`` per event type, in its own package, next to the
code that builds the payload::

    CATALOG = EventCatalog("customer-service", [
        EventContract("customer.created", 1, CustomerEventData, "a customer was created"),
        ...
    ])

``CATALOG.validate(event)`` checks an event against its contract (the producer's tests do
it for every event they see written; consumers validate the examples they rely on);
``CATALOG.json_schemas()`` renders each contract as a JSON Schema (draft 2020-12) of the
whole message, versioned by the contract's major ``version``: a field may be added within a
version, never removed, renamed or narrowed.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import marshmallow as ma

from .events import EVENT_TYPES, InvalidEvent

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class EventContract:
    event_type: str
    version: int
    data: type[ma.Schema]
    description: str = ""
    example: dict = field(default_factory=dict, compare=False)

    def __post_init__(self):
        if self.event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.event_type!r}: add it to CONTRACT §5 first")
        if self.version < 1:
            raise ValueError("contract versions start at 1")

    @property
    def schema_id(self) -> str:
        return f"urn:crm:event:{self.event_type}:v{self.version}"


class _Envelope(ma.Schema):
    """CONTRACT §5: the envelope every event shares."""
    event_id = ma.fields.String(required=True)
    event_type = ma.fields.String(required=True)
    occurred_at = ma.fields.String(required=True, metadata={"format": "date-time"})
    producer = ma.fields.String(required=True)
    aggregate_type = ma.fields.String(required=True)
    aggregate_id = ma.fields.String(required=True)
    aggregate_version = ma.fields.Integer(required=True)
    factory_id = ma.fields.String(allow_none=True)
    trace_id = ma.fields.String(allow_none=True)
    actor = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True))
    changed_fields = ma.fields.List(ma.fields.String())
    options = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Raw(allow_none=True))


def _converter():
    from apispec import APISpec
    from apispec.ext.marshmallow import MarshmallowPlugin
    plugin = MarshmallowPlugin()
    spec = APISpec("events", "1", "3.1.0", plugins=[plugin])  # 3.1: nullable as type lists (JSON Schema)
    return spec, plugin.converter


_COMPONENT_REF = "#/components/schemas/"


def _local_refs(schema):
    """Nested schemas are registered as OpenAPI components; in a standalone JSON Schema they
    live under ``$defs``, so every ``$ref`` must point there."""
    if isinstance(schema, dict):
        return {k: ("#/$defs/" + v[len(_COMPONENT_REF):] if k == "$ref" and isinstance(v, str)
                    and v.startswith(_COMPONENT_REF) else _local_refs(v)) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_local_refs(v) for v in schema]
    return schema


def _open(schema: dict) -> dict:
    """Consumers must tolerate fields added later: no ``additionalProperties: false``."""
    if isinstance(schema, dict):
        schema = {k: _open(v) for k, v in schema.items() if not (k == "additionalProperties" and v is False)}
    elif isinstance(schema, list):
        schema = [_open(v) for v in schema]
    return schema


class EventCatalog:
    def __init__(self, producer: str, contracts: Iterable[EventContract]):
        self.producer = producer
        self.contracts: dict[str, EventContract] = {}
        for contract in contracts:
            if contract.event_type in self.contracts:
                raise ValueError(f"{contract.event_type} declared twice by {producer}")
            self.contracts[contract.event_type] = contract
        self._loaders = {t: c.data(unknown=ma.INCLUDE) for t, c in self.contracts.items()}
        self._envelope = _Envelope(unknown=ma.INCLUDE)

    @property
    def event_types(self) -> list[str]:
        return sorted(self.contracts)

    def contract(self, event_type: str) -> EventContract:
        try:
            return self.contracts[event_type]
        except KeyError:
            raise InvalidEvent(f"{self.producer} declares no contract for {event_type}") from None

    def validate(self, event: dict) -> None:
        """``InvalidEvent`` naming every field that breaks the envelope or the contract."""
        errors = self._envelope.validate(event)
        if event.get("producer") not in (None, self.producer):
            errors["producer"] = [f"expected {self.producer}"]
        loader = self._loaders.get(event.get("event_type"))
        if loader is None:
            raise InvalidEvent(f"{self.producer} declares no contract for {event.get('event_type')}")
        data_errors = loader.validate(event.get("data") if isinstance(event.get("data"), dict) else {})
        if data_errors:
            errors["data"] = data_errors
        if errors:
            raise InvalidEvent(f"{event.get('event_type')} breaks its contract: {json.dumps(errors, ensure_ascii=False)}")

    def json_schema(self, event_type: str) -> dict:
        contract = self.contract(event_type)
        spec, converter = _converter()
        envelope = converter.schema2jsonschema(_Envelope)
        envelope["properties"]["event_type"] = {"const": contract.event_type}
        envelope["properties"]["producer"] = {"const": self.producer}
        envelope["properties"]["data"] = converter.schema2jsonschema(contract.data)
        envelope["required"] = sorted(set(envelope.get("required", [])) | {"data"})
        doc = {"$schema": JSON_SCHEMA_DIALECT, "$id": contract.schema_id,
               "title": f"{contract.event_type} v{contract.version} ({self.producer})",
               "description": contract.description, **envelope}
        nested = spec.to_dict().get("components", {}).get("schemas", {})
        if nested:
            doc["$defs"] = nested
        if contract.example:
            doc["examples"] = [contract.example]
        return _open(_local_refs(doc))

    def json_schemas(self) -> dict[str, dict]:
        return {t: self.json_schema(t) for t in self.event_types}

    def write(self, directory: Path) -> list[Path]:
        """``<directory>/<event_type>.v<version>.json`` for every contract (sorted keys, so
        that a diff shows exactly what changed)."""
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for event_type, schema in self.json_schemas().items():
            path = directory / f"{event_type}.v{self.contracts[event_type].version}.json"
            path.write_text(json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8")
            written.append(path)
        return written
