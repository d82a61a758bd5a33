"""analytics-service's unit of work: the shared one (transaction, outbox) plus this
service's repositories, for requests and the consumer alike (``AnalyticsUnitOfWork.joining``
binds it to the consumer's transaction)."""
from __future__ import annotations

from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.repositories import Freshness, Orders, ReadModel


class AnalyticsUnitOfWork(UnitOfWork):
    outbox = orm.outbox
    read_model: ReadModel
    orders: Orders
    freshness: Freshness

    def bind(self, session) -> None:
        self.read_model = ReadModel(session)
        self.orders = Orders(session)
        self.freshness = Freshness(session)
