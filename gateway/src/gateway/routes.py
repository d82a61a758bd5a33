"""The gateway route table of CONTRACT §4, as data, and the longest-match lookup.

A pattern matches a path when each of its segments equals the path's segment at that
position (``{name}`` matches any one segment); the path may continue below the pattern
(every row stands for its subtree). Among matching rows the one with the most segments
wins, so ``/api/mobile/F1/customers/vip`` goes to analytics and
``/api/mobile/F1/customers/42`` to customer-service."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

# Settings.service_urls key -> the name people and metrics use.
SERVICE_NAMES = {
    "customer": "customer-service",
    "viewing": "viewing-service",
    "analytics": "analytics-service",
    "sync": "sync-worker",
    "webhook": "webhook-service",
    "issuer": "token-issuer",
}


@dataclass(frozen=True)
class Route:
    pattern: str
    service: str  # a key of Settings.service_urls

    @cached_property
    def segments(self) -> tuple[str, ...]:
        return split_path(self.pattern)

    @property
    def service_name(self) -> str:
        return SERVICE_NAMES[self.service]

    @cached_property
    def specificity(self) -> tuple[int, int]:
        """Longer patterns win; on equal length, more literal segments win."""
        return len(self.segments), sum(not s.startswith("{") for s in self.segments)

    def matches(self, segments: tuple[str, ...]) -> bool:
        if len(segments) < len(self.segments):
            return False
        return all(want.startswith("{") or want == got for want, got in zip(self.segments, segments))


_MOBILE = "/api/mobile/{factoryId}/customers"

ROUTES: tuple[Route, ...] = (
    # seed 001 statistics are answered by analytics-service's read model
    Route(f"{_MOBILE}/{{customerId}}/statistics", "analytics"),
    Route(f"{_MOBILE}/{{customerId}}/purchase-history", "analytics"),
    Route(f"{_MOBILE}/rating-distribution", "analytics"),
    Route(f"{_MOBILE}/overall-statistics", "analytics"),
    Route(f"{_MOBILE}/type-distribution", "analytics"),
    Route(f"{_MOBILE}/industry-distribution", "analytics"),
    Route(f"{_MOBILE}/vip", "analytics"),
    Route(_MOBILE, "customer"),
    Route("/api/v1/customers", "customer"),
    Route("/api/v1/companies", "customer"),
    Route("/api/v1/customer-groups", "customer"),
    Route("/api/v1/external-sync", "customer"),
    Route("/api/external/customers", "customer"),
    Route("/api/external/viewing-records", "viewing"),
    Route("/api/external/statistics", "analytics"),
    Route("/api/v1/analytics", "analytics"),
    Route("/api/v1/projects", "sync"),
    Route("/api/v1/contracts", "sync"),
    Route("/api/v1/sync", "sync"),
    Route("/oauth/token", "issuer"),
    Route("/.well-known/jwks.json", "issuer"),
    Route("/api/v1/api-clients", "issuer"),
    Route("/api/v1/webhooks", "webhook"),
)


def split_path(path: str) -> tuple[str, ...]:
    return tuple(part for part in path.split("/") if part)


def resolve(path: str, routes: tuple[Route, ...] = ROUTES) -> Route | None:
    """The route serving ``path`` (longest match), or ``None`` when no service owns it."""
    segments = split_path(path)
    index = _INDEX if routes is ROUTES else _candidates(routes)
    for route in index.get(segments[:1], ()):
        if route.matches(segments):
            return route
    return None


@lru_cache(maxsize=8)
def _candidates(routes: tuple[Route, ...]) -> dict[tuple[str, ...], tuple[Route, ...]]:
    """The routes by their first segment (every row's is literal), most specific first: the
    first that matches is the longest match. Built once; every request resolves a path."""
    index: dict[tuple[str, ...], list[Route]] = {}
    for route in routes:
        if route.segments[0].startswith("{"):
            raise ValueError(f"a route must start with a literal segment: {route.pattern}")
        index.setdefault(route.segments[:1], []).append(route)
    return {first: tuple(sorted(rows, key=lambda r: r.specificity, reverse=True)) for first, rows in index.items()}


_INDEX = _candidates(ROUTES)
