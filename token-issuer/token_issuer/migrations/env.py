"""Alembic environment of token-issuer: its own database (ISSUER_DATABASE_URL)."""
from alembic import context

from crm_common.config import Settings
from crm_common.migrations import run_env
from token_issuer.adapters.orm import metadata

url = context.config.attributes.get("database_url") or Settings.from_env("issuer").database_url
run_env(context, metadata, url)
