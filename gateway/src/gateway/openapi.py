"""One OpenAPI document for the whole API: the gateway's own paths plus every service's,
fetched from each service's ``/openapi.json`` and cached.

Only the paths the gateway routes to a service are taken from it (a service's own
``/healthz`` is not reachable through the gateway). Components with the same name and the
same content are shared; a different component under a taken name is renamed with the
service's prefix (``Viewing`` + name) and every ``$ref`` of that service is rewritten. A
service that cannot be fetched is listed in ``info.description`` as unavailable."""
from __future__ import annotations

import copy
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from crm_common import logs

from .routes import SERVICE_NAMES, resolve

log = logs.get_logger("gateway.openapi")

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
REF_PREFIX = "#/components/"

Fetched = dict | str  # the service's document, or why it could not be fetched


class DocumentUnavailable(Exception):
    """A service answered, but not with an OpenAPI document."""


def _rewrite_refs(node, renames: dict[tuple[str, str], str]):
    """A copy of ``node`` with ``$ref``s to renamed components pointing at the new names."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith(REF_PREFIX):
                section, _, name = value[len(REF_PREFIX):].partition("/")
                new = renames.get((section, name))
                out[key] = f"{REF_PREFIX}{section}/{new}" if new else value
            else:
                out[key] = _rewrite_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(item, renames) for item in node]
    return node


def _free_name(wanted: str, *taken: dict) -> str:
    name, n = wanted, 2
    while any(name in names for names in taken):
        name, n = f"{wanted}{n}", n + 1
    return name


def component_renames(components: dict, merged: dict, prefix: str) -> dict[tuple[str, str], str]:
    """Which of a service's components must be renamed to sit beside ``merged``. Repeated
    until nothing changes, because renaming one component changes the ones referring to it."""
    renames: dict[tuple[str, str], str] = {}
    while True:
        rewritten = _rewrite_refs(components, renames)
        added = False
        for section, items in rewritten.items():
            existing = merged.get(section, {})
            for name, value in items.items():
                if (section, name) in renames or name not in existing or existing[name] == value:
                    continue
                renames[(section, name)] = _free_name(prefix + name, existing, items,
                                                      {new for (s, _), new in renames.items() if s == section})
                added = True
        if not added:
            return renames


def _prefix(service: str) -> str:
    return "".join(part.capitalize() for part in service.split("-"))


def merge_documents(own: dict, fetched: list[tuple[str, Fetched]]) -> dict:
    """The gateway's document ``own`` with the routed paths and the components of every
    fetched service document (``fetched``: service key -> document or error text)."""
    merged = copy.deepcopy(own)
    paths = merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    tags = merged.setdefault("tags", [])
    tag_names = {tag["name"] for tag in tags}
    operation_ids = {op.get("operationId") for item in paths.values() for op in item.values()
                     if isinstance(op, dict)} - {None}
    lines = []
    for service, doc in fetched:
        name = SERVICE_NAMES[service]
        if not isinstance(doc, dict):
            lines.append(f"- {name}: 不可用 / unavailable ({doc})")
            continue
        renames = component_renames(doc.get("components", {}), components, _prefix(service))
        doc = _rewrite_refs(doc, renames)
        for section, items in doc.get("components", {}).items():
            target = components.setdefault(section, {})
            for cname, value in items.items():
                target.setdefault(renames.get((section, cname), cname), value)
        default_security = doc.get("security")
        used_tags: set[str] = set()
        taken = 0
        for path, item in doc.get("paths", {}).items():
            route = resolve(path)
            if route is None or route.service != service or path in paths:
                continue
            for method in HTTP_METHODS:
                operation = item.get(method)
                if not isinstance(operation, dict):
                    continue
                if default_security is not None:
                    operation.setdefault("security", default_security)
                op_id = operation.get("operationId")
                if op_id:
                    if op_id in operation_ids:
                        op_id = operation["operationId"] = _free_name(f"{service}_{op_id}", operation_ids)
                    operation_ids.add(op_id)
                used_tags.update(operation.get("tags", []))
            paths[path] = item
            taken += 1
        for tag in doc.get("tags", []):
            if tag.get("name") in used_tags and tag["name"] not in tag_names:
                tags.append(tag)
                tag_names.add(tag["name"])
        renamed = f", {len(renames)} renamed components" if renames else ""
        lines.append(f"- {name}: ok ({taken} paths{renamed})")
    info = merged.setdefault("info", {})
    info["description"] = (info.get("description") or "").rstrip() + "\n\nServices / 上游服务:\n" + "\n".join(lines)
    if not tags:
        merged.pop("tags")
    return merged


class MergedDocument:
    """The merged document, rebuilt at most every ``ttl`` seconds (``failed_ttl`` while
    some service is unavailable, so that it reappears soon)."""

    def __init__(self, own: Callable[[], dict], fetch: Callable[[str], dict], services: list[str],
                 ttl: float = 30.0, failed_ttl: float = 5.0):
        self._own, self._fetch, self._services = own, fetch, services
        self._ttl, self._failed_ttl = ttl, failed_ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, dict] | None = None

    def get(self) -> dict:
        with self._lock:
            if self._cached and time.monotonic() < self._cached[0]:
                return self._cached[1]
            fetched = self._fetch_all()
            doc = merge_documents(self._own(), fetched)
            ttl = self._ttl if all(isinstance(d, dict) for _, d in fetched) else self._failed_ttl
            self._cached = (time.monotonic() + ttl, doc)
            return doc

    def _fetch_one(self, service: str) -> Fetched:
        try:
            return self._fetch(service)
        except Exception as exc:  # noqa: BLE001 - any failure: listed as unavailable
            reason = str(exc) if isinstance(exc, DocumentUnavailable) else type(exc).__name__
            log.warning("openapi_fetch_failed", upstream=SERVICE_NAMES[service], error=reason)
            return reason

    def _fetch_all(self) -> list[tuple[str, Fetched]]:
        with ThreadPoolExecutor(max_workers=len(self._services)) as pool:
            return list(zip(self._services, pool.map(self._fetch_one, self._services)))
