"""Alembic glue shared by every service's ``migrations/env.py``, and a programmatic
``upgrade_head`` for start-up scripts and tests.

A service's ``alembic.ini`` and ``migrations/`` (env.py, script.py.mako, versions/) are
package data of the service's own package (``customer_service/migrations/``, …): the wheel
carries them, and ``migrations_home("customer_service")`` finds them through
``importlib.resources`` wherever the package is installed, from any working directory."""
from __future__ import annotations

import contextlib
from importlib import resources
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


def migrations_home(package: str) -> Path:
    """The directory holding a service package's ``alembic.ini`` and ``migrations/``: the
    package itself, found through ``importlib.resources`` (a checkout, an editable install or
    a wheel installed anywhere alike). Alembic needs real files: a zipped install is refused."""
    home = Path(str(resources.files(package)))
    if not (home / "alembic.ini").is_file() or not (home / "migrations" / "env.py").is_file():
        raise FileNotFoundError(f"{package} carries no alembic.ini and migrations/ (looked in {home})")
    return home


def upgrade_head(service_dir: Path | str, url: str) -> None:
    """``alembic upgrade head`` for the service whose alembic.ini and migrations/ are in
    ``service_dir`` (its ``migrations_home``)."""
    from alembic import command
    from alembic.config import Config

    service_dir = Path(service_dir)
    cfg = Config(str(service_dir / "alembic.ini"))
    cfg.set_main_option("script_location", str(service_dir / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["database_url"] = url
    command.upgrade(cfg, "head")
