"""One authorisation table for the whole system (CONTRACT §3): deny by default.

Every route of every service names the permission it needs, next to its definition::

    @blp.route("/<int:customer_id>")
    class CustomerById(MethodView):
        @authorize("customer.read")
        def get(self, customer_id): ...

``PERMISSIONS`` below says which roles hold each permission; it is the only place where
roles are given rights. ``crm_common.web`` checks the permission of the matched view
before anything else runs (argument parsing included), so a forbidden caller gets 403
whatever its body. A route without a declaration is refused (403) and fails the
service's start-up (``verify_app``). The permission and its roles are written into the
operation's OpenAPI document (``x-permission``, ``x-roles``).

Tenant (factory) and business-domain scope are not roles: the handlers apply them to
every query (404 outside the caller's tenant or domains).
"""
from __future__ import annotations

from copy import deepcopy
from typing import Callable, Iterable

from .auth import ROLES

PUBLIC = "public"
# Any valid token, whatever its roles: only the gateway's proxy, whose upstream service
# then checks the permission of the route it serves.
AUTHENTICATED = "authenticated"

# Role groups, named for who they are in the seeds.
ADMIN = frozenset({"admin"})
# 工厂所有角色 (any role of the factory), but integrator: it reaches /api/external only.
STAFF = frozenset({"admin", "factory_admin", "sales_admin", "finance_admin", "analyst", "viewer"})
MANAGERS = frozenset({"admin", "factory_admin", "sales_admin"})        # 工厂管理员、销售管理员
FINANCE = frozenset({"admin", "factory_admin", "finance_admin"})       # 工厂管理员、财务管理员
FACTORY_ADMINS = frozenset({"admin", "factory_admin"})                 # 工厂管理员
INTEGRATORS = frozenset({"admin", "integrator"})
# Seed 001's distributions name 工厂管理员、销售管理员; analysts are the statistics
# service's intended users, so CONTRACT §3 widens every statistics read to them.
STATISTICS = MANAGERS | {"analyst"}
ANALYSES = STATISTICS | {"finance_admin"}

PERMISSIONS: dict[str, frozenset[str]] = {
    # customer-service: customers (all three surfaces), companies, groups, imports
    "customer.read": STAFF,
    "customer.write": MANAGERS,
    "customer.delete": FACTORY_ADMINS,
    "customer.finance": FINANCE,            # credit limit, balance, outstanding balances
    "customer.export": MANAGERS,            # export and import template (seed 001 §6)
    "customer.bulk": ADMIN,                 # seed 000's bulk API
    "customer.history.read": STAFF,         # rating, status, credit and balance history
    "company.read": STAFF,
    "company.write": MANAGERS,
    "group.read": STAFF,
    "group.write": MANAGERS,
    "external_sync.read": STAFF,
    "external_sync.run": ADMIN,             # seed 003's import from the third party's MySQL
    "external.customer.write": INTEGRATORS,  # seed 002 upsert by userId
    # viewing-service
    "external.viewing.write": INTEGRATORS,
    "external.viewing.read": INTEGRATORS,
    # analytics-service
    "statistics.customer.read": STAFF,      # seed 001 §5.1/5.2: per customer, 工厂所有角色
    "statistics.tenant.read": STATISTICS,   # seed 001 §5.3/5.4/7.3/7.4 distributions, VIP
    "analytics.read": ANALYSES,             # /api/v1/analytics: RFM, credit risk, rating scores
    "analytics.freshness.read": STATISTICS,
    "external.statistics.read": INTEGRATORS | {"analyst"},
    "order.read": STAFF,                    # order summaries (customer bodies show them)
    "order.write": FINANCE,
    # sync-worker
    "project.read": STAFF,
    "project.write": MANAGERS,
    "contract.read": STAFF,
    "contract.write": MANAGERS,
    "sync.read": STAFF,
    "sync.run": MANAGERS,
    # webhook-service (CONTRACT §6)
    "webhook.manage": frozenset({"admin", "factory_admin", "integrator"}),
    # token issuer (CONTRACT §3)
    "api_client.manage": ADMIN,
    # service-internal reads (snapshots for read-model rebuilds; not routed by the gateway)
    "internal.snapshot": ADMIN,
}

# Endpoints that answer without a token (besides those marked with ``@public``):
# flask-smorest's own document and docs page.
PUBLIC_ENDPOINTS = frozenset({"api-docs.openapi_json", "api-docs.openapi_swagger_ui",
                              "api-docs.openapi_redoc", "api-docs.openapi_rapidoc"})

_ATTRIBUTE = "_crm_permission"

assert all(set(roles) <= set(ROLES) for roles in PERMISSIONS.values()), "unknown role in PERMISSIONS"


def roles_for(permission: str) -> frozenset[str]:
    """The roles holding ``permission``; an unknown permission is held by nobody."""
    return PERMISSIONS.get(permission, frozenset())


def allows(permission: str, roles: Iterable[str]) -> bool:
    return permission in (PUBLIC, AUTHENTICATED) or bool(roles_for(permission).intersection(roles))


def _declare(func: Callable, permission: str, doc: dict) -> Callable:
    setattr(func, _ATTRIBUTE, permission)
    # Merged into the operation's OpenAPI object by flask-smorest (as ``blp.doc`` does).
    apidoc = deepcopy(getattr(func, "_apidoc", {}))
    manual = apidoc.setdefault("manual_doc", {})
    manual.update(doc)
    func._apidoc = apidoc
    return func


def authorize(permission: str) -> Callable[[Callable], Callable]:
    """Declare the permission a view (function or MethodView method) needs."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}: add it to crm_common.authz.PERMISSIONS")
    roles = sorted(PERMISSIONS[permission])

    def decorator(func: Callable) -> Callable:
        return _declare(func, permission, {"x-permission": permission, "x-roles": roles})
    return decorator


def authenticated(func: Callable) -> Callable:
    """Declare a view that needs a valid token but no particular role (the gateway's proxy)."""
    return _declare(func, AUTHENTICATED, {"x-permission": AUTHENTICATED, "x-roles": []})


def public(func: Callable) -> Callable:
    """Declare a view that needs no token and no role (health, readiness, docs, static)."""
    return _declare(func, PUBLIC, {"x-permission": PUBLIC, "x-roles": []})


def permission_of(view_function: Callable | None, method: str) -> str | None:
    """The permission declared for ``method`` on the view registered under an endpoint
    (a plain function, or a MethodView class's method); ``None`` when undeclared."""
    if view_function is None:
        return None
    view_class = getattr(view_function, "view_class", None)
    if view_class is not None:
        name = method.lower()
        handler = getattr(view_class, name, None)
        if handler is None and name == "head":
            handler = getattr(view_class, "get", None)
        return getattr(handler, _ATTRIBUTE, None) if handler is not None else None
    return getattr(view_function, _ATTRIBUTE, None)


def undeclared_routes(app) -> list[str]:
    """``METHOD rule`` of every route of ``app`` whose view declares no permission."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        view = app.view_functions.get(rule.endpoint)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if permission_of(view, method) is None:
                missing.append(f"{method} {rule.rule}")
    return missing


def verify_app(app) -> None:
    """Refuse to build an app with a route that names no permission (deny by default is
    enforced per request too; this makes the omission fail loudly at start-up)."""
    missing = undeclared_routes(app)
    if missing:
        raise RuntimeError("routes without an authorisation declaration (crm_common.authz): "
                           + ", ".join(missing))
