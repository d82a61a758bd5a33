"""RabbitMQ basics shared by the relay and the consumers: connection parameters, the
``crm.events`` topology, and a cheap readiness probe."""
from __future__ import annotations

import random
import signal
import threading
import time

import pika

_probe_lock = threading.Lock()
_probe_cache: dict[str, tuple[float, tuple[bool, str]]] = {}


def connection_parameters(amqp_url: str, *, heartbeat: int = 30, timeout: float = 5.0) -> pika.URLParameters:
    params = pika.URLParameters(amqp_url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 30
    params.socket_timeout = timeout
    params.connection_attempts = 1
    params.retry_delay = 0
    return params


def unrouted_name(exchange: str) -> str:
    return f"{exchange}.unrouted"


def declare_exchange(channel, exchange: str = "crm.events") -> None:
    """The topic exchange, with an alternate exchange that keeps every message no queue is
    bound for (a new event type, a consumer not yet deployed) in the durable queue
    ``<exchange>.unrouted`` instead of dropping it; operators can shovel them back later."""
    unrouted = unrouted_name(exchange)
    channel.exchange_declare(exchange=unrouted, exchange_type="fanout", durable=True)
    channel.queue_declare(queue=unrouted, durable=True)
    channel.queue_bind(queue=unrouted, exchange=unrouted)
    channel.exchange_declare(exchange=exchange, exchange_type="topic", durable=True,
                             arguments={"alternate-exchange": unrouted})


def broker_ready(amqp_url: str, ttl: float = 5.0) -> tuple[bool, str]:
    """Is the broker reachable? Cached for ``ttl`` seconds so /readyz stays cheap."""
    now = time.monotonic()
    with _probe_lock:
        cached = _probe_cache.get(amqp_url)
        if cached and now - cached[0] < ttl:
            return cached[1]
    try:
        conn = pika.BlockingConnection(connection_parameters(amqp_url, timeout=1.0))
        conn.close()
        result = (True, "ok")
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        result = (False, type(exc).__name__)
    with _probe_lock:
        _probe_cache[amqp_url] = (time.monotonic(), result)
    return result


# --- the reconnect loop shared by the relay and the consumers ---------------------------------

def close_quietly(connection) -> None:
    """Close a broker connection that may already be broken."""
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - it is going away either way
            pass


def wait_before_retry(stop_event: threading.Event, delay: float, ceiling: float) -> float:
    """Sleep ``delay`` plus jitter (unless stopping); returns the next, doubled delay."""
    if not stop_event.is_set():
        stop_event.wait(delay + random.uniform(0, delay / 2))
    return min(delay * 2, ceiling)


def stop_on_signals(stop_event: threading.Event) -> None:
    """SIGTERM/SIGINT ask the loop to finish its current message and stop."""
    def _stop(_signum, _frame):
        stop_event.set()
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
