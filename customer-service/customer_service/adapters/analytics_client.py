"""What analytics-service estimates of customers and customer-service cannot know from
order events alone: the customer lifetime value (seed 001 customerLifetimeValue, an
estimate of analytics' own), asked with
``POST {ANALYTICS_SERVICE_URL}/api/v1/analytics/order-summaries``.

Best effort by design: a slow, failing or absent analytics-service must not break a
customer read, so any failure yields "unknown" (``None``) and the field stays null;
nothing is ever invented."""
from __future__ import annotations

import threading
from decimal import Decimal, InvalidOperation
from typing import Iterable

import requests

from crm_common import logs

log = logs.get_logger("customer.analytics_client")

PATH = "/api/v1/analytics/order-summaries"
MAX_IDS_PER_CALL = 1000
_local = threading.local()


def _session() -> requests.Session:
    session = getattr(_local, "session", None)
    if session is None:
        session = _local.session = requests.Session()
    return session


def _number(value) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _lifetime_value(raw) -> Decimal | None:
    """One customer's ``customerLifetimeValue``; ``None`` when absent or not a number."""
    if not isinstance(raw, dict):
        return None
    return _number(raw.get("customerLifetimeValue"))


class OrderSummaryClient:
    """``lifetime_values(ids)`` -> ``{id: value}`` for the ids analytics knows, or ``None``
    when analytics could not answer."""

    def __init__(self, base_url: str, factory_id: str, *, authorization: str | None,
                 timeout: float = 0.5, extra_headers: dict[str, str] | None = None):
        self.url = base_url.rstrip("/") + PATH
        self.factory_id = factory_id
        self.timeout = timeout
        self.headers = {"X-Factory-Id": factory_id, **(extra_headers or {})}
        if authorization:
            self.headers["Authorization"] = authorization

    def lifetime_values(self, customer_ids: Iterable[int]) -> dict[int, Decimal] | None:
        ids = [int(i) for i in customer_ids][:MAX_IDS_PER_CALL]
        if not ids:
            return {}
        answer = self._ask(ids)
        if answer is None:
            return None
        values = {cid: _lifetime_value(answer.get(str(cid))) for cid in ids}
        return {cid: value for cid, value in values.items() if value is not None}

    def _ask(self, ids: list[int]) -> dict | None:
        try:
            resp = _session().post(self.url, json={"customer_ids": [str(i) for i in ids]},
                                   headers=self.headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("order_summaries_unavailable", error=type(exc).__name__, ids=len(ids))
            return None
        if resp.status_code != 200:
            log.warning("order_summaries_unavailable", status=resp.status_code, ids=len(ids))
            return None
        try:
            body = resp.json()
        except ValueError:
            log.warning("order_summaries_unavailable", error="invalid JSON", ids=len(ids))
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict):
            log.warning("order_summaries_unavailable", error="unexpected shape", ids=len(ids))
            return None
        return data
