"""Alembic environment of sync-worker: its own database (SYNC_DATABASE_URL)."""
from alembic import context

from crm_common.config import Settings
from crm_common.migrations import run_env
from sync_worker.adapters.orm import metadata

url = context.config.attributes.get("database_url") or Settings.from_env("sync").database_url
run_env(context, metadata, url)
