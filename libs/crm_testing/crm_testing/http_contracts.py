"""Consumer-driven HTTP contracts between services (issue 23): the calling service records what it
sends and what it reads back; the providing service replays every recording against its real
app in its own test suite.

A consumer keeps one file per provider, ``<consumer>/contracts/pacts/<provider>.json``::

    {"consumer": "analytics-service", "provider": "customer-service",
     "interactions": [
       {"description": "the owner's view of one customer",
        "provider_state": "a customer exists",
        "request": {"method": "GET", "path": "/api/v1/customers/{customer_id}",
                    "query": {"limit": "2"},                                  # optional
                    "token": {"roles": ["analyst"], "factories": ["{factory}"]},  # claims of the caller's token
                    "headers": {"X-Factory-Id": "{factory}"},
                    "body": {...}},                                          # optional JSON body
        "response": {"status": 200,
                     "fields": {"data.factory_id": "string", "data.rating": "integer",
                                "data.credit_limit": "number|string", "data.items[].id": "integer"}}}]}

``{name}`` placeholders (in the path, query, headers, body and token claims) are filled by the
provider state the provider sets up: ``{factory}`` is a tenant of the test alone, the others
(``{customer_id}``, …) are whatever the state created. ``response.fields`` maps a dotted path
(``[]``: every element of a list, which must not be empty) to the JSON types the consumer
accepts there (a path may hold placeholders: ``data.{customer_id}.totalOrders``) (``string``, ``integer``, ``number``, ``boolean``, ``array``, ``object``,
``null``, joined with ``|``); fields not listed are the provider's to change.

The provider's test (``<provider>/tests/integration/test_consumer_contracts.py``) names a
function per provider state; ``replay_all`` fails naming each interaction that is not met,
and every provider state that no function sets up.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Callable

from . import auth_headers, repo_root

PLACEHOLDER = re.compile(r"\{(\w+)\}")
JSON_TYPES = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
              "object": dict, "null": type(None)}


def pacts_for(provider: str, root: Path | None = None) -> list[dict]:
    """Every consumer's recorded interactions with ``provider``."""
    root = root or repo_root()
    found = []
    for path in sorted(root.glob(f"*/contracts/pacts/{provider}.json")):
        pact = json.loads(path.read_text(encoding="utf-8"))
        assert pact["provider"] == provider and pact["consumer"] == path.relative_to(root).parts[0], path
        found.append(pact)
    return found


def fill(value, names: dict):
    """``value`` with every ``{name}`` replaced (a whole-string placeholder keeps the value's type)."""
    if isinstance(value, str):
        whole = PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in names:
            return names[whole.group(1)]
        return PLACEHOLDER.sub(lambda m: str(names.get(m.group(1), m.group(0))), value)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {PLACEHOLDER.sub(lambda m: str(names.get(m.group(1), m.group(0))), k): fill(v, names)
                for k, v in value.items()}
    return value


def _values_at(body, path: str) -> list | None:
    """Every value at a dotted path (``items[]`` fans out); ``None`` when the path is absent."""
    nodes = [body]
    for part in path.split("."):
        many = part.endswith("[]")
        key = part[:-2] if many else part
        next_nodes = []
        for node in nodes:
            if not isinstance(node, dict) or key not in node:
                return None
            value = node[key]
            if many:
                if not isinstance(value, list) or not value:
                    return None
                next_nodes.extend(value)
            else:
                next_nodes.append(value)
        nodes = next_nodes
    return nodes


def _is(value, kinds: str) -> bool:
    for kind in kinds.split("|"):
        expected = JSON_TYPES[kind.strip()]
        if isinstance(value, bool) and kind.strip() in ("integer", "number"):
            continue
        if isinstance(value, expected):
            return True
    return False


def mismatches(interaction: dict, status: int, body) -> list[str]:
    expected = interaction["response"]
    problems = []
    if status != expected["status"]:
        problems.append(f"status {status}, expected {expected['status']}: {json.dumps(body, ensure_ascii=False)[:300]}")
        return problems
    for path, kinds in expected.get("fields", {}).items():
        values = _values_at(body, path)
        if values is None:
            problems.append(f"{path}: missing")
        else:
            wrong = [v for v in values if not _is(v, kinds)]
            if wrong:
                problems.append(f"{path}: {wrong[0]!r} is not {kinds}")
    return problems


def replay(client, interaction: dict, names: dict) -> list[str]:
    """Send one interaction through a Flask test client; the problems with the answer."""
    interaction = fill(interaction, names)  # placeholders in the response's field paths too
    request = interaction["request"]
    headers = dict(request.get("headers") or {})
    if "token" in request:
        claims = {"roles": ["admin"], "factories": ["*"], "domains": ["*"], **request["token"]}
        headers.update(auth_headers(**claims))
    kwargs = {"headers": headers, "query_string": request.get("query") or None}
    if "body" in request:
        kwargs["json"] = request["body"]
    response = client.open(request["path"], method=request["method"], **kwargs)
    return mismatches(interaction, response.status_code, response.get_json(silent=True))


def replay_all(client, provider: str, states: dict[str, Callable[[str], dict]], new_factory: Callable[[], str],
               root: Path | None = None) -> int:
    """Replay every consumer's interactions with ``provider``, each on a fresh tenant with its
    provider state set up by ``states[name](factory) -> placeholders``. Returns how many were
    replayed; AssertionError naming every unmet interaction."""
    problems, count = [], 0
    for pact in pacts_for(provider, root):
        for interaction in pact["interactions"]:
            label = f"{pact['consumer']} -> {provider}: {interaction['description']}"
            state = interaction.get("provider_state")
            if state and state not in states:
                problems.append(f"{label}: provider state {state!r} is not set up by {provider}'s test")
                continue
            factory = new_factory()
            names = {"factory": factory, **(states[state](factory) if state else {})}
            problems += [f"{label}: {p}" for p in replay(client, interaction, names)]
            count += 1
    assert count, f"no consumer records an interaction with {provider}"
    assert not problems, "\n".join(problems)
    return count
