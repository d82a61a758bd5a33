"""analytics-service's unit of work: the shared one (transaction, outbox) plus this
service's repositories, for requests and the consumer alike (``AnalyticsUnitOfWork.joining``
binds it to the consumer's transaction)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from crm_common.config import Settings
from crm_common.db import UnitOfWork

from ..adapters import orm
from ..adapters.repositories import Freshness, Orders, ReadModel


class AnalyticsUnitOfWork(UnitOfWork):
    outbox = orm.outbox
    read_model: ReadModel
    orders: Orders
    freshness: Freshness

    def __init__(self, session_factory=None, outbox=None, *, timezone: str | None = None):
        """``timezone``: APP_TIMEZONE, the zone whose calendar days the overdue rule counts
        (the read model keeps each customer's due day in it, as customer-service does)."""
        super().__init__(session_factory, outbox)
        self.timezone = ZoneInfo(timezone or Settings.app_timezone)

    def bind(self, session) -> None:
        self.read_model = ReadModel(session, self.timezone)
        self.orders = Orders(session)
        self.freshness = Freshness(session)
