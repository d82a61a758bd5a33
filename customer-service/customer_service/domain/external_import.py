"""Seed 003's import from the third party's MySQL (issue 21), no database: the one place
that maps the third party's columns to our fields, the rules a record must meet, and the
watermark the import keeps.

The third party's schema is theirs; when it differs, change ``CUSTOMER_COLUMNS`` /
``COMPANY_COLUMNS`` (and the table names) and nothing else. README "External MySQL import"
documents the same table."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from crm_common.formats import is_phone

DEFAULT_SOURCE = "RB"            # seed 003's source system
CUSTOMER_TABLE = "customers"     # the third party's tables (EXTERNAL_MYSQL_CUSTOMER_TABLE / _COMPANY_TABLE)
COMPANY_TABLE = "companies"

# Third party's customer column -> our customer field. ``id`` and ``updated_at`` are also
# the watermark's keyset (updated_at, id); ``company_id`` joins the company table.
CUSTOMER_COLUMNS: dict[str, str] = {
    "id": "source_ref_id",
    "customer_name": "name",
    "contact_person": "primary_contact_name",
    "mobile": "primary_contact_phone",
    "email": "email",
    "address": "address",
    "tax_no": "tax_number",
    "remark": "notes",
}
# Third party's company column -> our company field (joined on customers.company_id = companies.id).
COMPANY_COLUMNS: dict[str, str] = {
    "id": "source_ref_id",
    "company_code": "company_code",
    "company_name": "name",
    "license_no": "business_license_number",
    "industry": "industry_type",
    "address": "address",
    "contact_name": "contact_name",
    "contact_phone": "contact_phone",
}
CHANGE_STAMP = "updated_at"      # the customer row's last change (watermark)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LIMITS = {"name": 100, "primary_contact_name": 64, "primary_contact_phone": 32, "email": 254, "address": 500,
          "tax_number": 64, "company.name": 200, "company.company_code": 64,
          "company.business_license_number": 64, "company.industry_type": 64, "company.address": 500,
          "company.contact_name": 64, "company.contact_phone": 32}


@dataclass(frozen=True, order=True)
class Watermark:
    """The last record read: ``(updated_at, id)`` in the third party's order."""
    updated_at: dt.datetime
    remote_id: int

    def to_text(self) -> str:
        return f"{self.updated_at.isoformat()}|{self.remote_id}"

    @classmethod
    def parse(cls, text: str | None) -> "Watermark | None":
        if not text:
            return None
        stamp, _, remote_id = text.rpartition("|")
        return cls(dt.datetime.fromisoformat(stamp), int(remote_id))


@dataclass(frozen=True)
class ExternalRecord:
    """One customer row of the third party (with its company's row, when it has one), in
    our field names."""
    remote_id: str
    updated_at: dt.datetime
    customer: dict[str, Any]
    company: dict[str, Any] | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def watermark(self) -> Watermark:
        return Watermark(self.updated_at, int(self.remote_id))


def _clean(value):
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def record_from_row(row: Mapping[str, Any]) -> ExternalRecord:
    """A row read with ``customer.<column>`` / ``company.<column>`` keys -> the record."""
    customer = {ours: _clean(row.get(f"customer.{theirs}")) for theirs, ours in CUSTOMER_COLUMNS.items()}
    company = None
    if row.get("company.id") is not None:
        company = {ours: _clean(row.get(f"company.{theirs}")) for theirs, ours in COMPANY_COLUMNS.items()}
        company["source_ref_id"] = str(company["source_ref_id"])
    customer["source_ref_id"] = str(customer["source_ref_id"])
    return ExternalRecord(remote_id=customer["source_ref_id"], updated_at=row[f"customer.{CHANGE_STAMP}"],
                          customer=customer, company=company,
                          raw={k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v)
                               for k, v in row.items()})


def problems(record: ExternalRecord) -> dict[str, str]:
    """Why the record cannot be imported (field -> reason); empty when it can."""
    found: dict[str, str] = {}
    values = {**record.customer, **{f"company.{k}": v for k, v in (record.company or {}).items()}}
    if not record.customer.get("name"):
        found["name"] = "客户名称不能为空"
    if record.company is not None and not record.company.get("name"):
        found["company.name"] = "公司名称不能为空"
    for key, limit in LIMITS.items():
        value = values.get(key)
        if isinstance(value, str) and len(value) > limit:
            found[key] = f"长度不能超过 {limit} 个字符"
    phone = record.customer.get("primary_contact_phone")
    if phone and "primary_contact_phone" not in found and not is_phone(str(phone)):
        found["primary_contact_phone"] = "联系电话格式不正确"
    email = record.customer.get("email")
    if email and "email" not in found and not _EMAIL.match(str(email)):
        found["email"] = "邮箱格式不正确"
    return found


def customer_fields(record: ExternalRecord, source: str) -> dict[str, Any]:
    """What the customer is created or updated with: the mapped values (blanks never erase
    on update), tagged with the source so that its code gets the source's prefix."""
    fields = {k: v for k, v in record.customer.items() if v is not None}
    fields.update(source=source, source_ref_id=record.remote_id)
    return fields


def company_fields(record: ExternalRecord, source: str) -> dict[str, Any] | None:
    """The company to upsert: by ``company_code`` when the third party has one, else by
    ``source`` + ``source_ref_id`` (their company id)."""
    if record.company is None:
        return None
    fields = {k: v for k, v in record.company.items() if v is not None}
    fields["source"] = source
    return fields
