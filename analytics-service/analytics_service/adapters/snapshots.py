"""The owning services' current state, page by page: customer-service's
``GET /internal/customers/snapshot`` and viewing-service's
``GET /internal/viewing-records/snapshot`` (``?after_id=&limit=``, keyset pagination over
every tenant, deleted rows included, each row in its event ``data`` shape with ``version``).

Called with an admin token (factories ``*``): in production an API client's token from the
token issuer (``SERVICE_CLIENT_ID``/``SERVICE_CLIENT_SECRET``), in development one signed
with JWT_SECRET (``crm_common.service_token``). Not routed by the gateway, so it goes to the
internal service URLs."""
from __future__ import annotations

from typing import Iterator

import requests

from crm_common.config import Settings
from crm_common.service_token import TokenRequestFailed, TokenSource, service_token_source

CUSTOMERS_PATH = "/internal/customers/snapshot"
VIEWING_RECORDS_PATH = "/internal/viewing-records/snapshot"


class SnapshotUnavailable(RuntimeError):
    """An owning service could not hand over its state: nothing is replaced."""


def admin_tokens(settings: Settings) -> TokenSource:
    """Tokens for reading every tenant's snapshot (the API client needs the role admin and
    factories ``*``)."""
    return service_token_source(settings, sub="analytics-rebuild", name="analytics-service rebuild",
                                roles=["admin"], factories=["*"], domains=["*"])


def _items(body) -> tuple[list[dict], object]:
    data = body.get("data") if isinstance(body, dict) else None
    if isinstance(data, list):
        return data, None
    if isinstance(data, dict) and isinstance(data.get("items"), list):
        return data["items"], data.get("next_after_id")
    raise SnapshotUnavailable("snapshot answer has no list of items in data")


def snapshot_pages(base_url: str, path: str, tokens: TokenSource, *, page_size: int = 1000,
                   timeout: float = 30.0) -> Iterator[list[dict]]:
    """Yield every page of a snapshot, following the ``after_id`` cursor to the end (a token
    per page: a long rebuild outlives one short-lived issuer token)."""
    url = base_url.rstrip("/") + path
    session = requests.Session()
    after = None
    while True:
        params = {"limit": page_size, **({"after_id": after} if after is not None else {})}
        try:
            resp = session.get(url, params=params, timeout=timeout,
                               headers={"Authorization": f"Bearer {tokens()}"})
        except TokenRequestFailed as exc:
            raise SnapshotUnavailable(f"no token for {url}: {exc}") from exc
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
