"""The gateway's gunicorn worker: aiohttp's worker (on uvloop) serving ``server.py``'s
handler with aiohttp's low-level server, so that no router or middleware sits between a
request and the handler.

The connections answer the requests they refuse themselves (a request line or header over
the limits, bad framing, an unknown transfer coding) in the envelope with an
``X-Trace-Id``, like ``crm_common.gunicorn_worker`` does for the services: 414 for a
request line over 4094 bytes and 431 for a header over 8190 (gunicorn's own limits)."""
from __future__ import annotations

import json
import os

from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.worker import GunicornUVLoopWebWorker

from crm_common import logs
from crm_common.envelopes import error_body, surface_for_path
from crm_common.gunicorn_worker import MESSAGES

from .edge import SERVER
from .proxy import StreamAborted

MAX_REQUEST_LINE = 4094
MAX_HEADER_FIELD = 8190

log = logs.get_logger("gateway.worker")


class EnvelopeRequestHandler(web.RequestHandler):
    """aiohttp's connection handler, except for the body of the errors it answers itself."""

    def handle_error(self, request, status=500, exc=None, message=None):
        if isinstance(exc, StreamAborted) or request.writer.output_size > 0:
            # the answer is under way: closing the connection is all that is left (logged already)
            raise ConnectionError("response already started")
        if isinstance(exc, LineTooLong):
            status = 414 if exc.args[1] == MAX_REQUEST_LINE else 431
        if status >= 500:
            log.error("unhandled_error", error=type(exc).__name__, exc_info=exc)
        else:
            log.warning("request_refused", status=status, error=type(exc).__name__)
        trace_id = logs.new_trace_id()
        body = error_body(surface_for_path(request.path), status, MESSAGES.get(status, "请求格式错误"))
        response = web.Response(status=status, body=json.dumps(body, ensure_ascii=False).encode(),
                                content_type="application/json", headers={"X-Trace-Id": trace_id, "Server": SERVER})
        response.force_close()
        return response


class _Server(web.Server):
    def __call__(self) -> web.RequestHandler:
        return EnvelopeRequestHandler(self, loop=self._loop, **self._kwargs)


class GatewayWorker(GunicornUVLoopWebWorker):
    async def _run(self) -> None:
        handler = await self.wsgi()  # server.create_handler, on this worker's loop
        server = _Server(handler, keepalive_timeout=self.cfg.keepalive, access_log=None,
                         max_line_size=MAX_REQUEST_LINE, max_field_size=MAX_HEADER_FIELD)
        runner = web.ServerRunner(server, shutdown_timeout=self.cfg.graceful_timeout / 100 * 95)
        await runner.setup()
        for sock in self.sockets:
            await web.SockSite(runner, sock).start()
        self.booted = True
        # As aiohttp's worker: tell the arbiter we are alive every second; leave when
        # asked, past max_requests, or when the master is gone.
        pid = os.getpid()
        try:
            while self.alive:
                self.notify()
                if self.max_requests and server.requests_count > self.max_requests:
                    self.alive = False
                    self.log.info("Max requests, shutting down: %s", self)
                elif pid == os.getpid() and self.ppid != os.getppid():
                    self.alive = False
                    self.log.info("Parent changed, shutting down: %s", self)
                else:
                    await self._wait_next_notify()
        finally:
            await runner.cleanup()
            await handler.close()
