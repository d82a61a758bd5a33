"""Alembic glue shared by every service's ``migrations/env.py``, and a programmatic
``upgrade_head`` for start-up scripts and tests."""
from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa


def run_env(context, metadata: sa.MetaData, url: str) -> None:
    """Body of a service's migrations/env.py (online and offline modes)."""
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=metadata,
                          render_as_batch=url.startswith("sqlite"), compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


def upgrade_head(service_dir: Path | str, url: str) -> None:
    """``alembic upgrade head`` for the service whose alembic.ini is in ``service_dir``."""
    from alembic import command
    from alembic.config import Config

    service_dir = Path(service_dir)
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")
