"""A stand-in for customer-service as analytics asks it (the contract of
``analytics_service/adapters/customer_service.py``), served over real HTTP on a free port
by a thread of the test process:

- ``GET /api/v1/customers/{id}`` → the customer in the v1 envelope;
- ``GET /api/v1/customers/{id}/order-eligibility`` → ``{"customer_id", "eligible",
  "refusals": [{"rule", "message", "overridable"}], "status", "is_overdue", "overdue_days",
  "risk_level", "open_orders", "last_order_date"}``.

Both answer 404 for a customer that is unknown, deleted, of another tenant than
``X-Factory-Id`` or outside the token's business domains, 401 without a token — as
customer-service does. ``mode`` switches its behaviour: ``"ok"``, ``"slow"`` (answers after
``slow_seconds``), ``"error"`` (500). ``requests`` records what it was asked, headers
included."""
from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

import jwt
from flask import Flask, request
from werkzeug.serving import make_server

from crm_testing import TEST_JWT_SECRET, free_port

_PATH = re.compile(r"/api/v1/customers/(\d+)(/order-eligibility)?")


@dataclass
class OwnedCustomer:
    factory_id: str
    business_domain: str = "DEFAULT"
    status: str = "active"
    is_overdue: bool = False
    overdue_days: int = 0
    risk_level: str = "NORMAL"
    rating: int = 3
    credit_limit: float = 0
    current_balance: float = 0
    name: str = "客户"
    deleted: bool = False


@dataclass
class FakeCustomerService:
    customers: dict[int, OwnedCustomer] = field(default_factory=dict)
    requests: list[dict] = field(default_factory=list)
    mode: str = "ok"
    slow_seconds: float = 3.0

    def add(self, customer_id: int, factory_id: str, **state) -> OwnedCustomer:
        self.customers[int(customer_id)] = OwnedCustomer(factory_id=factory_id, **state)
        return self.customers[int(customer_id)]

    def asked(self, customer_id: int, what: str = "order-eligibility") -> list[dict]:
        suffix = f"/{customer_id}/{what}" if what else f"/{customer_id}"
        return [r for r in self.requests if r["path"].endswith(suffix)]

    # --- the HTTP side ---------------------------------------------------------------------------
    def app(self) -> Flask:
        app = Flask("fake-customer-service")
        app.json.ensure_ascii = False

        @app.get("/api/v1/customers/<path:rest>")
        def answer(rest):
            self.requests.append({"path": request.path, "headers": dict(request.headers)})
            if self.mode == "slow":
                time.sleep(self.slow_seconds)
            if self.mode == "error":
                return {"success": False, "code": 5000, "message": "服务器内部错误"}, 500
            match = _PATH.fullmatch(request.path)
            token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
            try:
                claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
            except jwt.PyJWTError:
                return {"success": False, "code": 4010, "message": "未认证或令牌无效"}, 401
            customer = self.customers.get(int(match.group(1))) if match else None
            domains = claims.get("domains") or []
            if customer is None or customer.deleted or customer.factory_id != request.headers.get("X-Factory-Id") \
                    or ("*" not in domains and customer.business_domain not in domains):
                return {"success": False, "code": 4040, "message": "客户不存在或已被删除"}, 404
            cid = int(match.group(1))
            if match.group(2):
                return {"success": True, "code": 2000, "message": "操作成功", "data": eligibility(cid, customer)}
            return {"success": True, "code": 2000, "message": "操作成功", "data": {
                "id": cid, "factory_id": customer.factory_id, "business_domain": customer.business_domain,
                "name": customer.name, "status": customer.status, "rating": customer.rating,
                "credit_limit": customer.credit_limit, "current_balance": customer.current_balance}}
        return app

    def __enter__(self) -> "FakeCustomerService":
        self.port = free_port()
        self._server = make_server("127.0.0.1", self.port, self.app(), threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def eligibility(customer_id: int, c: OwnedCustomer) -> dict:
    refusals = []
    if c.status != "active":
        refusals.append({"rule": "CUSTOMER_INACTIVE", "message": "客户已停用，不能创建新订单", "overridable": False})
    if c.is_overdue:
        refusals.append({"rule": "CUSTOMER_OVERDUE", "message": f"客户欠款已逾期 {c.overdue_days} 天",
                         "overridable": True})
    if c.risk_level == "HIGH_RISK":
        refusals.append({"rule": "CUSTOMER_HIGH_RISK", "message": "高风险客户，限制新订单", "overridable": True})
    return {"customer_id": customer_id, "eligible": not refusals, "refusals": refusals, "status": c.status,
            "is_overdue": c.is_overdue, "overdue_days": c.overdue_days, "risk_level": c.risk_level,
            "open_orders": 0, "last_order_date": None}
