"""customer-service over HTTP: the current state of one customer
(``GET {CUSTOMER_SERVICE_URL}/api/v1/customers/{id}``), asked with the caller's own token,
tenant and trace, so customer-service applies its own tenant and domain rules."""
from __future__ import annotations

import requests

from crm_common import logs

from ..domain.model import CustomerInfo

log = logs.get_logger("sync_worker.customer_client")


class CustomerServiceUnavailable(Exception):
    """customer-service did not answer usefully (down, slow, 5xx)."""


class CustomerServiceClient:
    def __init__(self, base_url: str, timeout: float = 3.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(1.0, timeout), timeout)  # connect, read: short, requests wait on it
        self.http = requests.Session()

    def fetch(self, customer_id: int, *, factory_id: str, authorization: str | None,
              trace_headers: dict[str, str] | None = None) -> CustomerInfo | None:
        """The customer's current state; ``None`` when customer-service says it does not
        exist for this caller (404; a 403 would be the caller's tenant, already checked)."""
        headers = {"X-Factory-Id": factory_id, **(trace_headers or {})}
        if authorization:
            headers["Authorization"] = authorization
        url = f"{self.base_url}/api/v1/customers/{int(customer_id)}"
        try:
            resp = self.http.get(url, headers=headers, timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("customer_service_unreachable", customer_id=customer_id, error=type(exc).__name__)
            raise CustomerServiceUnavailable(type(exc).__name__) from exc
        if resp.status_code in (403, 404):
            return None
        if resp.status_code != 200:
            log.warning("customer_service_error", customer_id=customer_id, status=resp.status_code)
            raise CustomerServiceUnavailable(f"HTTP {resp.status_code}")
        try:
            data = resp.json()["data"]
            return CustomerInfo.from_customer_data(data, factory_id)
        except (ValueError, KeyError, TypeError) as exc:
            raise CustomerServiceUnavailable(f"unexpected answer: {exc}") from exc
