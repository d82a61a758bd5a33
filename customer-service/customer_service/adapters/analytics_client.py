"""Order facts of customers, asked from analytics-service (customer-service owns no
orders): ``POST {ANALYTICS_SERVICE_URL}/api/v1/analytics/order-summaries``.

Best effort by design: a slow, failing or absent analytics-service must not break a
customer read, so any failure yields "unknown" (``None``) and the fields stay null;
nothing is ever invented."""
from __future__ import annotations

import datetime as dt
import math
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


def _summary(raw) -> dict | None:
    """One customer's entry, checked; ``None`` when it is not the agreed shape."""
    if not isinstance(raw, dict):
        return None
    orders = raw.get("totalOrders")
    if isinstance(orders, bool) or not isinstance(orders, (int, float)) or \
            (isinstance(orders, float) and (not math.isfinite(orders) or not orders.is_integer())):
        return None
    revenue = _number(raw.get("totalRevenue"))
    if revenue is None:
        return None
    last = raw.get("lastOrderDate")
    if last is not None:
        try:
            last = dt.date.fromisoformat(str(last)[:10])
        except ValueError:
            return None
    clv = raw.get("customerLifetimeValue")
    return {"totalOrders": int(orders), "totalRevenue": revenue, "lastOrderDate": last,
            "customerLifetimeValue": _number(clv) if clv is not None else None}


class OrderSummaryClient:
    """``summaries(ids)`` -> ``{id: summary}`` for the ids analytics knows, or ``None``
    when analytics could not answer. After one failure the client stops asking (an export
    of 100 chunks must not wait 100 timeouts)."""

    def __init__(self, base_url: str, factory_id: str, *, authorization: str | None,
                 timeout: float = 0.5, extra_headers: dict[str, str] | None = None):
        self.url = base_url.rstrip("/") + PATH
        self.factory_id = factory_id
        self.timeout = timeout
        self.headers = {"X-Factory-Id": factory_id, **(extra_headers or {})}
        if authorization:
            self.headers["Authorization"] = authorization
        self.failed = False

    def summaries(self, customer_ids: Iterable[int]) -> dict[int, dict] | None:
        ids = [int(i) for i in customer_ids]
        if not ids:
            return {}
        if self.failed:
            return None
        out: dict[int, dict] = {}
        for start in range(0, len(ids), MAX_IDS_PER_CALL):
            chunk = ids[start:start + MAX_IDS_PER_CALL]
            answer = self._ask(chunk)
            if answer is None:
                self.failed = True
                return None
            for cid in chunk:
                summary = _summary(answer.get(str(cid)))
                if summary is not None:
                    out[cid] = summary
        return out

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
