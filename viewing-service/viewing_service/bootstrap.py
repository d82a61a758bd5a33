"""Wires viewing-service's dependencies once per process: the database and unit of work,
the customer-service client and the optional property lookup."""
from __future__ import annotations

from flask import Flask

from crm_common.bootstrap import bootstrap_service
from crm_common.config import Settings

from .adapters import orm
from .adapters.customer_service import CustomerServiceClient
from .adapters.property_lookup import PropertyLookup
from .service_layer.unit_of_work import ServiceUnitOfWork


def bootstrap(app: Flask, settings: Settings) -> None:
    bootstrap_service(app, settings, ServiceUnitOfWork, orm.start_mappers)
    app.extensions["customer_service"] = CustomerServiceClient(
        settings.service_urls["customer"], timeout=settings.internal_http_timeout,
        connect_timeout=settings.get_float("CUSTOMER_SERVICE_CONNECT_TIMEOUT", 1.0),
        tries=settings.get_int("CUSTOMER_SERVICE_TRIES", 3))
    app.extensions["property_lookup"] = (
        PropertyLookup(settings.property_lookup_url, timeout=settings.get_float("PROPERTY_LOOKUP_TIMEOUT", 1.0))
        if settings.property_lookup_url else None)
