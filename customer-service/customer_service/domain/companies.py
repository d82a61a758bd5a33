"""Company identity rules (seed 003 ``Company.validate_source_ref``), no database.

A company is found by its ``id``, by ``company_code``, or by ``source`` + ``source_ref_id``
(a pair: one without the other identifies nothing)."""
from __future__ import annotations

from .errors import CompanyKeyRequired, CompanySourceRequired


def validate_source_ref(source: str | None, source_ref_id: str | None) -> None:
    if bool(source_ref_id) and not source:
        raise CompanySourceRequired()


def company_key(data: dict) -> tuple[str, object]:
    """Which identity the request uses: ``("id", 7)``, ``("code", "C-1")`` or
    ``("source_ref", ("RB", "r-9"))``."""
    validate_source_ref(data.get("source"), data.get("source_ref_id"))
    if data.get("id") is not None:
        return "id", data["id"]
    if data.get("company_code"):
        return "code", data["company_code"]
    if data.get("source") and data.get("source_ref_id"):
        return "source_ref", (data["source"], data["source_ref_id"])
    raise CompanyKeyRequired()
