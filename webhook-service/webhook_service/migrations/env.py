"""Alembic environment of webhook-service: its own database (WEBHOOK_DATABASE_URL)."""
from alembic import context

from crm_common.config import Settings
from crm_common.migrations import run_env
from webhook_service.adapters.orm import metadata

url = context.config.attributes.get("database_url") or Settings.from_env("webhook").database_url
run_env(context, metadata, url)
