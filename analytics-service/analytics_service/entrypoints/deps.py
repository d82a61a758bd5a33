"""What views need from the app: a fresh unit of work and the service's settings."""
from __future__ import annotations

from flask import current_app

from crm_common.web import settings_of


def uow():
    return current_app.extensions["uow_factory"]()


def timezone() -> str:
    return settings_of().app_timezone
