"""External-sync audit rules (seed 003 ``ExternalSystemSync``), no database: when a
customer write comes from an outside system, and what the audit row says."""
from __future__ import annotations

from dataclasses import dataclass

SUCCESS = "SUCCESS"
FAILED = "FAILED"
ENTITY_CUSTOMER = "customer"
MANUAL = "manual"


@dataclass(frozen=True)
class ExternalOrigin:
    source: str
    remote_id: str


def external_origin(customer: dict, explicit: ExternalOrigin | None = None) -> ExternalOrigin | None:
    """An explicit origin (``external_sync: {source, remote_id}``) wins; otherwise a
    customer whose ``source`` is not manual and that carries a ``source_ref_id`` comes from
    outside."""
    if explicit is not None:
        return explicit
    source = customer.get("source")
    ref = customer.get("source_ref_id")
    if source and source != MANUAL and ref:
        return ExternalOrigin(str(source), str(ref))
    return None


def adopt_origin(customer: dict, origin: ExternalOrigin | None) -> dict:
    """The customer fields with ``source``/``source_ref_id`` filled from the origin when
    the body named it only in ``external_sync`` (the customer code prefix follows source)."""
    if origin is None:
        return customer
    out = dict(customer)
    out.setdefault("source", origin.source)
    out.setdefault("source_ref_id", origin.remote_id)
    return out

