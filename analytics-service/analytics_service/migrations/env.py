"""Alembic environment of analytics-service: its own database (ANALYTICS_DATABASE_URL)."""
from alembic import context

from analytics_service.adapters.orm import metadata
from crm_common.config import Settings
from crm_common.migrations import run_env

url = context.config.attributes.get("database_url") or Settings.from_env("analytics").database_url
run_env(context, metadata, url)
