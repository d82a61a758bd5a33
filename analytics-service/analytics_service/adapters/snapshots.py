"""The owning services' current state, page by page: customer-service's
``GET /internal/customers/snapshot`` and viewing-service's
``GET /internal/viewing-records/snapshot`` (``?after_id=&limit=``, keyset pagination over
every tenant, deleted rows included, each row in its event ``data`` shape with ``version``).

Called with an admin token (factories ``*``) signed with JWT_SECRET; not routed by the
gateway, so it goes to the internal service URLs."""
from __future__ import annotations

from typing import Iterator

import requests

from crm_common.auth import issue_token

CUSTOMERS_PATH = "/internal/customers/snapshot"
VIEWING_RECORDS_PATH = "/internal/viewing-records/snapshot"


class SnapshotUnavailable(RuntimeError):
    """An owning service could not hand over its state: nothing is replaced."""


def admin_token(secret: str, ttl_seconds: int = 3600) -> str:
    return issue_token(secret, sub="analytics-rebuild", name="analytics-service rebuild", roles=["admin"],
                       factories=["*"], domains=["*"], ttl_seconds=ttl_seconds)


def _items(body) -> tuple[list[dict], object]:
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return data["items"], data.get("next_after_id")
    raise SnapshotUnavailable("snapshot answer has no list of items in data")


def snapshot_pages(base_url: str, path: str, token: str, *, page_size: int = 1000,
                   timeout: float = 30.0) -> Iterator[list[dict]]:
    """Yield every page of a snapshot, following the ``after_id`` cursor to the end."""
    url = base_url.rstrip("/") + path
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    after = None
    while True:
        params = {"limit": page_size, **({"after_id": after} if after is not None else {})}
        try:
            resp = session.get(url, params=params, timeout=timeout)
        except requests.RequestException as exc:
            raise SnapshotUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
        if resp.status_code != 200:
            raise SnapshotUnavailable(f"{url}: HTTP {resp.status_code} {resp.text[:200]}")
        items, cursor = _items(resp.json())
        if not items:
            return
        yield items
        after = cursor if cursor is not None else items[-1]["id"]
        if len(items) < page_size and cursor is None:
            return
