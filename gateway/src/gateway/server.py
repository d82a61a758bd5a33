"""What gunicorn serves (``gateway serve``, worker class ``gateway.worker.GatewayWorker``):
one request handler per worker process, on its event loop.

A path that the route table (``routes.py``) gives to a service is proxied right there
(``edge.py``, ``proxy.py``): waiting on a service costs no thread, so a slow service holds
up nobody else. Every other path (``/healthz``, ``/readyz``, ``/openapi.json``, ``/docs``,
and the 401/404 for paths no service owns) goes to the gateway's Flask app (``app.py``) in
a few threads (``wsgi.py``)."""
from __future__ import annotations

from aiohttp import web

from crm_common.config import Settings

from .app import create_app
from .edge import Edge
from .routes import resolve
from .wsgi import WsgiBridge


class GatewayHandler:
    def __init__(self, edge: Edge, own: WsgiBridge, on_close):
        self.edge, self.own = edge, own
        self._on_close = on_close

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        route = resolve(request.path)
        if route is None:
            return await self.own(request)
        return await self.edge.handle(request, route)

    async def close(self) -> None:
        await self._on_close()
        self.own.close()


async def create_handler(settings: Settings | None = None) -> GatewayHandler:
    """Called by each worker once its event loop runs (after gunicorn's fork)."""
    settings = settings or Settings.from_env("gateway")
    app = create_app(settings)
    parts = app.extensions["gateway"]
    await parts.upstreams.start()
    edge = Edge(service=settings.service, tokens=parts.tokens, limiter=parts.limiter, upstreams=parts.upstreams)
    own = WsgiBridge(app, threads=settings.get_int("GATEWAY_OWN_THREADS", 4), max_body=settings.max_request_bytes)
    return GatewayHandler(edge, own, parts.upstreams.close)
