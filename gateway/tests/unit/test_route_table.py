"""The route table of CONTRACT §4: every row, longest match wins (no I/O)."""
from __future__ import annotations

import pytest

from gateway.routes import ROUTES, resolve

# (path, service, the row that must win)
CASES = [
    # the seven statistics paths of seed 001 go to analytics-service ...
    ("/api/mobile/F001/customers/42/statistics", "analytics", "/api/mobile/{factoryId}/customers/{customerId}/statistics"),
    ("/api/mobile/F001/customers/42/purchase-history", "analytics", "/api/mobile/{factoryId}/customers/{customerId}/purchase-history"),
    ("/api/mobile/F001/customers/rating-distribution", "analytics", "/api/mobile/{factoryId}/customers/rating-distribution"),
    ("/api/mobile/F001/customers/overall-statistics", "analytics", "/api/mobile/{factoryId}/customers/overall-statistics"),
    ("/api/mobile/F001/customers/type-distribution", "analytics", "/api/mobile/{factoryId}/customers/type-distribution"),
    ("/api/mobile/F001/customers/industry-distribution", "analytics", "/api/mobile/{factoryId}/customers/industry-distribution"),
    ("/api/mobile/F001/customers/vip", "analytics", "/api/mobile/{factoryId}/customers/vip"),
    ("/api/mobile/工厂A/customers/vip/", "analytics", "/api/mobile/{factoryId}/customers/vip"),
    # ... and the rest of /api/mobile/{factoryId}/customers to customer-service
    *[(f"/api/mobile/F001/customers{rest}", "customer", "/api/mobile/{factoryId}/customers") for rest in (
        "", "/", "/42", "/active", "/search", "/by-type", "/by-industry", "/42/status", "/42/rating",
        "/42/credit-limit", "/42/balance", "/import", "/import/json", "/export", "/export/template",
        "/check-code", "/outstanding-balance", "/vip-level", "/42/statistics-export")],
    ("/api/v1/customers", "customer", "/api/v1/customers"),
    ("/api/v1/customers/bulk-create/", "customer", "/api/v1/customers"),
    ("/api/v1/customers/7/status", "customer", "/api/v1/customers"),
    ("/api/v1/companies/3", "customer", "/api/v1/companies"),
    ("/api/v1/customer-groups", "customer", "/api/v1/customer-groups"),
    ("/api/v1/external-sync/logs", "customer", "/api/v1/external-sync"),
    ("/api/v1/external-sync/runs", "customer", "/api/v1/external-sync"),      # issue 21
    ("/api/v1/external-sync/runs/12", "customer", "/api/v1/external-sync"),
    ("/api/external/customers", "customer", "/api/external/customers"),
    ("/api/external/viewing-records", "viewing", "/api/external/viewing-records"),
    ("/api/external/viewing-records/agent_user_12345", "viewing", "/api/external/viewing-records"),
    ("/api/external/statistics", "analytics", "/api/external/statistics"),
    ("/api/v1/analytics/customers/summary", "analytics", "/api/v1/analytics"),
    ("/api/v1/projects/9/sync-from-contract", "sync", "/api/v1/projects"),
    ("/api/v1/contracts", "sync", "/api/v1/contracts"),
    ("/api/v1/sync/history", "sync", "/api/v1/sync"),
    ("/oauth/token", "issuer", "/oauth/token"),
    ("/.well-known/jwks.json", "issuer", "/.well-known/jwks.json"),
    ("/api/v1/api-clients", "issuer", "/api/v1/api-clients"),
    ("/api/v1/api-clients/ac_0123/rotate-secret", "issuer", "/api/v1/api-clients"),
    ("/api/v1/webhooks", "webhook", "/api/v1/webhooks"),
    ("/api/v1/webhooks/5/deliveries/9/redeliver", "webhook", "/api/v1/webhooks"),
]


@pytest.mark.parametrize("path, service, row", CASES)
def test_longest_match_picks_the_owning_service(path, service, row):
    route = resolve(path)
    assert route is not None, path
    assert (route.service, route.pattern) == (service, row)


def test_every_row_of_the_table_is_exercised():
    assert {row for _, _, row in CASES} == {route.pattern for route in ROUTES}


@pytest.mark.parametrize("path", [
    "/", "/api", "/api/v1", "/api/v1/customersX", "/api/v2/customers", "/api/mobile/F001",
    "/api/mobile/F001/orders", "/api/mobile/customers", "/api/external", "/api/external/customer",
    "/healthz", "/docs", "/internal/revoked-clients", "/.well-known/openid-configuration",
])
def test_paths_no_service_owns_resolve_to_nothing(path):
    assert resolve(path) is None
