"""Alembic glue shared by every service's ``migrations/env.py``, and a programmatic
``upgrade_head`` for start-up scripts and tests."""
from __future__ import annotations

import contextlib
from pathlib import Path

import sqlalchemy as sa

from .config import normalize_database_url


def run_env(context, metadata: sa.MetaData, url: str) -> None:
    """Body of a service's migrations/env.py (online and offline modes)."""
    url = normalize_database_url(url)
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True,
                          render_as_batch=url.startswith("sqlite"))
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with migration_lock(engine), engine.connect() as connection:
            context.configure(connection=connection, target_metadata=metadata,
                              render_as_batch=url.startswith("sqlite"), compare_type=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


# One key for every service's database: each database is its own lock space.
MIGRATION_LOCK_KEY = 0x6372_6D6D  # "crmm"


@contextlib.contextmanager
def migration_lock(engine: sa.Engine, timeout: str = "10min"):
    """On PostgreSQL, hold a session advisory lock while migrating: several replicas (init
    containers, ``serve --migrate``) starting at once run ``upgrade head`` one after the
    other, and the later ones find nothing left to do, instead of racing to create
    ``alembic_version``. The lock is on its own autocommit connection, released on exit
    (or by PostgreSQL if the process dies)."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("SELECT set_config('lock_timeout', :t, false)"), {"t": timeout})
        conn.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": MIGRATION_LOCK_KEY})


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
