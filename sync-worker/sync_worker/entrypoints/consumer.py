"""The customer-event consumer (``sync-worker consume``): queue ``sync-worker.customer-sync``
bound to ``customer.*``.

The shared ``EventConsumer`` parses, dedupes by ``event_id``, drops versions older than
the last applied one, binds the event's ``trace_id`` to the log, opens the transaction,
calls ``handle`` below, commits and acks. A failing sync is logged, recorded as failed,
and retried by redelivery (then dead-lettered); the customer update it follows was
committed by customer-service long before, so it is never undone."""
from __future__ import annotations

from functools import partial

from sqlalchemy.orm import Session

from crm_common.config import Settings
from crm_common.db import make_engine, make_session_factory

from ..adapters import orm
from ..service_layer import sync
from ..service_layer.unit_of_work import EventTransaction, SyncUnitOfWork

CONSUMER_NAME = "sync-worker.customer-sync"
QUEUE = "sync-worker.customer-sync"
BINDINGS = ["customer.*"]
# Deliveries that arrive together share one commit (a savepoint each): the handler locks
# only one customer's rows, so batches cannot deadlock with other writers.
BATCH_SIZE = 50


def handler_factory(settings: Settings):
    """``handle(session, event)`` for the consumer, with its own small pool for recording
    failures outside the failed transaction."""
    failures = partial(SyncUnitOfWork, make_session_factory(make_engine(settings.database_url, pool_size=1,
                                                                        max_overflow=1)))

    def handle(session: Session, event: dict) -> None:
        try:
            sync.handle_customer_event(EventTransaction(session), event)
        except Exception as exc:
            sync.record_failed_event(failures(), event, exc)
            raise
    return handle


def start_mappers() -> None:
    orm.start_mappers()
