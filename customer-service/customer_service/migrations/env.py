"""Alembic environment of customer-service: its own database (CUSTOMER_DATABASE_URL)."""
from alembic import context

from crm_common.config import Settings
from crm_common.migrations import run_env
from customer_service.adapters.orm import metadata

url = context.config.attributes.get("database_url") or Settings.from_env("customer").database_url
run_env(context, metadata, url)
