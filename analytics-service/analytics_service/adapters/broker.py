"""The consumer's queue as RabbitMQ reports it (messages waiting, dead letters): a passive
declare on a short-lived connection, cached for a few seconds so /freshness stays cheap."""
from __future__ import annotations

import threading
import time

import pika

from crm_common.broker import connection_parameters

QUEUE = "analytics-service.read-model"
_lock = threading.Lock()
_cache: dict[str, tuple[float, dict | None]] = {}


def queue_backlog(amqp_url: str, queue: str = QUEUE, ttl: float = 2.0) -> dict | None:
    """``{"queue", "messages", "dead_letters"}``, or ``None`` when the broker cannot say."""
    now = time.monotonic()
    with _lock:
        cached = _cache.get(amqp_url)
        if cached and now - cached[0] < ttl:
            return cached[1]
    result = None
    try:
        connection = pika.BlockingConnection(connection_parameters(amqp_url, timeout=1.0))
        try:
            channel = connection.channel()
            ready = channel.queue_declare(queue=queue, passive=True).method.message_count
            channel = connection.channel()  # a failed passive declare closes its channel
            dead = channel.queue_declare(queue=f"{queue}.dlq", passive=True).method.message_count
            result = {"queue": queue, "messages": int(ready), "dead_letters": int(dead)}
        finally:
            if connection.is_open:
                connection.close()
    except Exception:  # noqa: BLE001 - unknown is an answer: the consumer may not have declared it yet
        result = None
    with _lock:
        _cache[amqp_url] = (time.monotonic(), result)
    return result
