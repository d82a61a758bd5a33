"""customer-service over HTTP (viewing-service never reads its database): the integrator's
customer upsert ``POST {CUSTOMER_SERVICE_URL}/api/external/customers`` made with the caller's
own token, tenant and trace id.

Connection errors, timeouts and 5xx are retried a bounded number of times (the upsert is
idempotent); when customer-service still cannot answer, the caller gets 503 and nothing is
written. A 4xx is the caller's mistake: it comes back as a 400 naming the caller's field
(404, a customer outside the caller's tenant or business domains, stays 404)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable

import requests
from requests.adapters import HTTPAdapter

from crm_common import logs
from crm_common.errors import Forbidden, NotFound, ServiceUnavailable, Unauthorized, ValidationError

log = logs.get_logger("viewing.customer_service")

UNAVAILABLE_MESSAGE = "客户服务暂不可用，带看记录未保存，请稍后重试"
# customer-service's field names -> the names of the viewing-record request
FIELD_NAMES = {"name": "customer_name", "phone": "customer_phone"}


@dataclass(frozen=True)
class UpsertedCustomer:
    id: int
    created: bool
    name: str | None = None   # the customer's current name and phone, as the upsert left them
    phone: str | None = None
    business_domain: str | None = None  # when customer-service says (its events always do)


class CustomerServiceClient:
    """One per process (a pooled HTTP session); ``for_caller`` binds a request's credentials."""

    def __init__(self, base_url: str, *, timeout: float = 3.0, connect_timeout: float = 1.0,
                 tries: int = 3, backoff: tuple[float, ...] = (0.2, 0.4),
                 session: requests.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        self.base_url = base_url.rstrip("/")
        self.timeout = (min(connect_timeout, timeout), timeout)
        self.tries = max(1, tries)
        self.backoff = backoff or (0.0,)
        self.sleep = sleep
        if session is None:
            session = requests.Session()
            session.mount("http://", HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0))
            session.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=32, max_retries=0))
        self.session = session

    def for_caller(self, authorization: str | None, factory_id: str) -> "CustomerDirectory":
        return CustomerDirectory(self, {"Authorization": authorization or "", "X-Factory-Id": factory_id})

    # --- transport ----------------------------------------------------------------------------
    def send(self, method: str, path: str, headers: dict, *, retry: bool = True, **kw) -> requests.Response:
        """The response of the first attempt that reached customer-service with a non-5xx
        answer; ``ServiceUnavailable`` after the last failed attempt."""
        url = self.base_url + path
        headers = {**headers, **logs.trace_headers()}
        attempts = self.tries if retry else 1
        failure = "unknown"
        for attempt in range(attempts):
            if attempt:
                self.sleep(self.backoff[min(attempt - 1, len(self.backoff) - 1)])
            try:
                response = self.session.request(method, url, headers=headers, timeout=self.timeout, **kw)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = type(exc).__name__
                log.warning("customer_service_unreachable", attempt=attempt + 1, error=failure, path=path)
                continue
            if response.status_code >= 500:
                failure = f"HTTP {response.status_code}"
                log.warning("customer_service_error", attempt=attempt + 1, status=response.status_code, path=path)
                continue
            return response
        raise ServiceUnavailable(UNAVAILABLE_MESSAGE, error_code="CUSTOMER_SERVICE_UNAVAILABLE",
                                 headers={"Retry-After": "1"}) from None


class CustomerDirectory:
    """customer-service as one caller sees it."""

    def __init__(self, client: CustomerServiceClient, headers: dict):
        self.client = client
        self.headers = headers

    def upsert(self, payload: dict) -> UpsertedCustomer:
        """Create or update the caller's customer of ``payload["userId"]`` (seed 002)."""
        # return=representation: the answer carries the name and phone the record snapshots
        response = self.client.send("POST", "/api/external/customers",
                                    {**self.headers, "Prefer": "return=representation"}, json=payload)
        body = _json(response)
        if response.status_code >= 400:
            raise _caller_error(response.status_code, body)
        try:
            data = body["data"]
            return UpsertedCustomer(int(data["id"]), data.get("action") == "created",
                                    data.get("name"), data.get("phone"), data.get("business_domain"))
        except (KeyError, TypeError, ValueError):
            log.error("customer_service_bad_reply", status=response.status_code)
            raise ServiceUnavailable(UNAVAILABLE_MESSAGE, error_code="CUSTOMER_SERVICE_UNAVAILABLE") from None


def _json(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _caller_error(status: int, body: dict):
    message = body.get("message") or "客户信息校验失败"
    if status == 401:
        return Unauthorized(message)
    if status == 403:
        return Forbidden(message)
    errors = {FIELD_NAMES.get(name, name): msgs for name, msgs in (body.get("errors") or {}).items()}
    if not errors:
        errors = {"userId": [message]}
    if status == 404:  # another tenant's or business domain's customer: as invisible here
        return NotFound(message, errors=errors, error_code="CUSTOMER_NOT_FOUND")
    summary = "；".join(f"{name}: {msgs[0] if isinstance(msgs, list) and msgs else msgs}"
                       for name, msgs in errors.items())
    return ValidationError(f"客户信息校验失败：{summary}", errors=errors, error_code="VALIDATION_ERROR")
