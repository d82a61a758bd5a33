"""Tables of analytics-service's own database."""
from __future__ import annotations

import sqlalchemy as sa

from crm_common.db import consumer_tables, outbox_table

metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
})

outbox = outbox_table(metadata)
processed_events, applied_versions = consumer_tables(metadata)


def start_mappers() -> None:
    """Map domain classes onto tables (none yet)."""
