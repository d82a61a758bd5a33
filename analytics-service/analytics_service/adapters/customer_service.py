"""customer-service over HTTP, as the owner of customers (``service_layer.owner``): its
internal URL (``CUSTOMER_SERVICE_URL``), the caller's own token forwarded (so the owner
applies the caller's tenant, domains and roles), with a timeout per call
(``CUSTOMER_SERVICE_TIMEOUT``) and, for a batch of orders, a bound on the whole round of
eligibility questions (``ORDER_ELIGIBILITY_BUDGET``, asked ``ORDER_ELIGIBILITY_CONCURRENCY``
at a time).

- ``GET /api/v1/customers/{id}`` → the customer (404: ``None``);
- ``GET /api/v1/customers/{id}/order-eligibility`` → ``{"customer_id", "eligible",
  "refusals": [{"rule", "message", "overridable"}], "status", "is_overdue",
  "overdue_days", "risk_level", "open_orders", "last_order_date"}`` (404: ``None``).

401/403 from the owner are the caller's own (answered as such); anything else that is not
a usable answer is ``OwnerUnavailable``."""
from __future__ import annotations

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor, wait
from decimal import Decimal, InvalidOperation
from typing import Iterable

import requests

from crm_common import logs
from crm_common.errors import Forbidden, Unauthorized

from ..domain.eligibility import Eligibility, Refusal
from ..service_layer.owner import OwnedCustomer, OwnerUnavailable

log = logs.get_logger("analytics.customer_service")

CUSTOMER_PATH = "/api/v1/customers/{id}"
ELIGIBILITY_PATH = "/api/v1/customers/{id}/order-eligibility"


class CustomerService:
    """One per process (``bootstrap``); ``acting_for`` binds it to a caller."""

    def __init__(self, base_url: str, *, timeout: float = 2.0, budget: float = 10.0, concurrency: int = 8):
        self.base_url = base_url.rstrip("/")
        self.timeout, self.budget, self.concurrency = timeout, budget, max(1, concurrency)
        self._local = threading.local()

    def session(self) -> requests.Session:
        # One keep-alive session per thread (requests' Session is not shared across threads).
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def acting_for(self, *, authorization: str | None, factory_id: str, trace_id: str | None) -> "CustomerServiceCaller":
        headers = {"X-Factory-Id": factory_id, "Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        if trace_id:
            headers["X-Request-ID"] = trace_id
        return CustomerServiceCaller(self, headers)


class CustomerServiceCaller:
    def __init__(self, service: CustomerService, headers: dict[str, str]):
        self.service, self.headers = service, headers

    def _get(self, path: str) -> dict | None:
        url = self.service.base_url + path
        try:
            resp = self.service.session().get(url, headers=self.headers, timeout=self.service.timeout)
        except requests.RequestException as exc:
            log.warning("customer_service_unavailable", path=path, error=type(exc).__name__)
            raise OwnerUnavailable(f"{type(exc).__name__}") from exc
        if resp.status_code == 404:
            return None
        body = _json(resp)
        message = body.get("message") if isinstance(body, dict) and isinstance(body.get("message"), str) else None
        if resp.status_code == 401:
            raise Unauthorized(message)
        if resp.status_code == 403:
            raise Forbidden(message)
        data = body.get("data") if isinstance(body, dict) else None
        if resp.status_code != 200 or not isinstance(data, dict):
            log.warning("customer_service_unusable_answer", path=path, status=resp.status_code)
            raise OwnerUnavailable(f"HTTP {resp.status_code}")
        return data

    def customer(self, customer_id: int) -> OwnedCustomer | None:
        data = self._get(CUSTOMER_PATH.format(id=int(customer_id)))
        return None if data is None else _customer(data, customer_id)

    def order_eligibility(self, customer_ids: Iterable[int]) -> dict[int, Eligibility | None]:
        ids = sorted({int(i) for i in customer_ids})
        if not ids:
            return {}
        if len(ids) == 1:
            return {ids[0]: self._eligibility(ids[0])}
        pool = ThreadPoolExecutor(max_workers=min(self.service.concurrency, len(ids)),
                                  thread_name_prefix="eligibility")
        try:
            futures = {pool.submit(self._eligibility, cid): cid for cid in ids}
            done, pending = wait(futures, timeout=self.service.budget)
            if pending:
                for future in pending:
                    future.cancel()
                log.warning("customer_service_too_slow", asked=len(ids), unanswered=len(pending))
                raise OwnerUnavailable(f"{len(pending)} of {len(ids)} eligibility answers past the budget")
            return {futures[f]: f.result() for f in done}
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _eligibility(self, customer_id: int) -> Eligibility | None:
        data = self._get(ELIGIBILITY_PATH.format(id=customer_id))
        return None if data is None else _eligibility(data, customer_id)


def _json(resp: requests.Response):
    try:
        return resp.json()
    except ValueError:
        return None


def _decimal(value, name: str) -> Decimal:
    if value is None:
        return Decimal(0)
    if isinstance(value, bool):
        raise OwnerUnavailable(f"{name} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise OwnerUnavailable(f"{name} is not a number") from exc
    if not number.is_finite():
        raise OwnerUnavailable(f"{name} is not a number")
    return number


def _customer(data: dict, customer_id: int) -> OwnedCustomer:
    rating = data.get("rating")
    return OwnedCustomer(
        id=int(customer_id), factory_id=str(data.get("factory_id") or ""),
        business_domain=data.get("business_domain") if isinstance(data.get("business_domain"), str) else None,
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        rating=rating if isinstance(rating, int) and not isinstance(rating, bool) else 3,
        status=data.get("status") if isinstance(data.get("status"), str) else None,
        credit_limit=_decimal(data.get("credit_limit"), "credit_limit"),
        current_balance=_decimal(data.get("current_balance"), "current_balance"),
        overdue_days=_count(data.get("overdue_days")))


def _count(value) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _eligibility(data: dict, customer_id: int) -> Eligibility:
    eligible, refusals = data.get("eligible"), data.get("refusals") or []
    if not isinstance(eligible, bool) or not isinstance(refusals, list):
        raise OwnerUnavailable("order-eligibility answer without eligible/refusals")
    parsed = []
    for raw in refusals:
        if not isinstance(raw, dict) or not isinstance(raw.get("rule"), str):
            raise OwnerUnavailable("order-eligibility refusal without a rule")
        parsed.append(Refusal(rule=raw["rule"], message=str(raw.get("message") or raw["rule"]),
                              overridable=raw.get("overridable") is True))
    last = data.get("last_order_date")
    try:
        last = dt.date.fromisoformat(str(last)[:10]) if last else None
    except ValueError:
        last = None
    days, open_orders = data.get("overdue_days"), data.get("open_orders")
    return Eligibility(
        customer_id=int(customer_id), eligible=eligible and not parsed, refusals=tuple(parsed),
        status=data.get("status") if isinstance(data.get("status"), str) else None,
        is_overdue=data.get("is_overdue") if isinstance(data.get("is_overdue"), bool) else None,
        overdue_days=days if isinstance(days, int) and not isinstance(days, bool) else None,
        risk_level=data.get("risk_level") if isinstance(data.get("risk_level"), str) else None,
        open_orders=open_orders if isinstance(open_orders, int) and not isinstance(open_orders, bool) else None,
        last_order_date=last)
