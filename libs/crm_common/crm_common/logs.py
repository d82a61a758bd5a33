"""JSON structured logs. Every line carries ``trace_id`` and the user's ``sub`` when a
request or an event is being handled (bound through structlog's context variables)."""
from __future__ import annotations

import logging
import re
import sys
import uuid

import structlog

_configured = False
_SANE_TRACE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")


def configure_logging(service: str, level: str = "INFO", stream=None) -> None:
    """Route stdlib logging (gunicorn, SQLAlchemy, pika) and structlog to one JSON stream
    (stdout; a command whose stdout is its result passes ``sys.stderr``)."""
    global _configured
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_service(service),
    ]
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(ensure_ascii=False)],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("pika", "urllib3", "werkzeug"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    structlog.configure(
        processors=shared + [structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    _configured = True


def _add_service(service: str):
    def processor(_logger, _name, event_dict):
        event_dict.setdefault("service", service)
        return event_dict
    return processor


def get_logger(name: str | None = None):
    return structlog.get_logger(name)


# --- trace ids ------------------------------------------------------------------------

def sane_trace_id(value: str | None) -> str | None:
    if value and _SANE_TRACE_ID.match(value):
        return value
    return None


def new_trace_id() -> str:
    return uuid.uuid4().hex


def bind_trace(trace_id: str, **extra) -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(trace_id=trace_id, **extra)


def bind(**values) -> None:
    structlog.contextvars.bind_contextvars(**values)


def current_trace_id() -> str | None:
    return structlog.contextvars.get_contextvars().get("trace_id")


def trace_headers() -> dict[str, str]:
    """Headers that carry the current trace to another service."""
    trace_id = current_trace_id()
    return {"X-Trace-Id": trace_id} if trace_id else {}
