"""``webhook-service deliver``: the delivery worker as a process (signals, metrics, wiring)."""
from __future__ import annotations

import argparse
from functools import partial

from crm_common import logs
from crm_common.broker import stop_on_signals
from crm_common.config import Settings
from crm_common.db import make_engine, make_session_factory
from crm_common.heartbeat import Heartbeat
from crm_common.metrics import start_metrics_server

from ..adapters.http_sender import HttpSender
from ..adapters.wakeups import DeliveryListener
from ..bootstrap import bootstrap
from ..service_layer.delivery import DeliveryWorker
from ..service_layer.unit_of_work import WebhookUnitOfWork


def deliver_command(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="webhook-service deliver",
                            description="Send pending webhook deliveries (safe to run several)").parse_args(argv)
    settings = Settings.from_env("webhook")
    logs.configure_logging("webhook-deliver", settings.log_level)
    wiring = bootstrap(settings)
    start_metrics_server(settings.get_int("METRICS_PORT", 0))
    # At most one connection per sending thread, plus the claiming loop's and the listener's
    # (and a spare); DB_POOL_SIZE of them stay open while idle.
    most = wiring.settings.concurrency + 3
    idle = min(settings.get_int("DB_POOL_SIZE", most), most)
    engine = make_engine(settings.database_url, pool_size=idle, max_overflow=most - idle)
    sender = HttpSender(wiring.settings.timeout_seconds, wiring.settings.concurrency_per_subscription)
    worker = DeliveryWorker(uow_factory=partial(WebhookUnitOfWork, make_session_factory(engine)), sender=sender,
                            targets=wiring.targets, settings=wiring.settings,
                            heartbeat=Heartbeat.from_env().beat)  # HEARTBEAT_FILE touched every turn
    stop_on_signals(worker.stop_event)
    DeliveryListener(engine, worker.wake_for_new, worker.stop_event).start()
    worker.run()
    sender.close()
    engine.dispose()
    return 0
