"""Event consumers of customer-service (entrypoints, like the views): parse, dedupe, handle,
commit, ack — all but ``handle`` is the shared ``crm_common`` consumer.

``customer-service consume`` runs the viewing-statistics consumer: queue
``customer-service.viewing-stats`` bound to ``viewing.*`` (dead letters in ``….dlq``)."""
from __future__ import annotations

from crm_common.config import Settings
from crm_common.workers import consumer_command

from ..adapters import orm
from ..service_layer import viewing_stats

VIEWING_STATS_QUEUE = "customer-service.viewing-stats"
VIEWING_STATS_BINDINGS = ["viewing.*"]


def viewing_stats_handler(_settings: Settings):
    """``handler(session, event)``: a viewing record's effect on its customer."""
    return viewing_stats.apply_viewing_event


def consume_command():
    return consumer_command(
        "customer", name=VIEWING_STATS_QUEUE, queue=VIEWING_STATS_QUEUE, bindings=VIEWING_STATS_BINDINGS,
        processed=orm.processed_events, versions=orm.applied_versions,
        handler_factory=viewing_stats_handler, start_mappers=orm.start_mappers)
