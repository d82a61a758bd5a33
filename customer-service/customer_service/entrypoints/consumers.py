"""Event consumers of customer-service (entrypoints, like the views): parse, dedupe, handle,
commit, ack — all but ``handle`` is the shared ``crm_common`` consumer.

``customer-service consume`` runs the viewing-statistics consumer: queue
``customer-service.viewing-stats`` bound to ``viewing.*`` (dead letters in ``….dlq``)."""
from __future__ import annotations

from crm_common.config import Settings
from crm_common.workers import consumer_command

from ..adapters import orm
from ..adapters.cache import invalidate_on_commit
from ..bootstrap import build_cache
from ..service_layer import viewing_stats

VIEWING_STATS_QUEUE = "customer-service.viewing-stats"
VIEWING_STATS_BINDINGS = ["viewing.*"]


def viewing_stats_handler(settings: Settings):
    """``handler(session, event)``: a viewing record's effect on its customer. Customers it
    changes are dropped from the read cache once the consumer's transaction commits."""
    cache = build_cache(settings)

    def handle(session, event):
        invalidate_on_commit(session, cache)
        viewing_stats.apply_viewing_event(session, event)
    return handle


def consume_command():
    return consumer_command(
        "customer", name=VIEWING_STATS_QUEUE, queue=VIEWING_STATS_QUEUE, bindings=VIEWING_STATS_BINDINGS,
        processed=orm.processed_events, versions=orm.applied_versions,
        handler_factory=viewing_stats_handler, start_mappers=orm.start_mappers)
