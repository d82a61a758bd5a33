"""Wires customer-service's dependencies once per process (engine, unit of work, cache,
readiness checks), so that views and consumers receive them instead of building them."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service, build_uow_factory  # noqa: F401
from crm_common.config import Settings

from .adapters import orm
from .service_layer.unit_of_work import CustomerUnitOfWork


def bootstrap(app: Flask, settings: Settings) -> None:
    bootstrap_service(app, settings, CustomerUnitOfWork, orm.start_mappers)
