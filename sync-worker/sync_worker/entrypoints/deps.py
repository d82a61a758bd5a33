"""What views need from the app: the composition root, and customer-service as the caller
sees it (its own token, tenant and trace)."""
from __future__ import annotations

from flask import Flask, current_app, request

from crm_common import logs
from crm_common.context import RequestContext

from ..bootstrap import SyncWorker
from ..service_layer.customers import FetchCustomer

_KEY = "sync_worker"


def install(app: Flask, worker: SyncWorker) -> SyncWorker:
    app.extensions[_KEY] = worker
    return worker


def core(app: Flask | None = None) -> SyncWorker:
    return (app or current_app).extensions[_KEY]


def customers_for(ctx: RequestContext) -> FetchCustomer:
    return core().customers_for(ctx, request.headers.get("Authorization"), logs.trace_headers())
