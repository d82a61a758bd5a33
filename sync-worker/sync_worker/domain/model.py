"""Projects, contracts and the customer facts they copy (seed 004), as plain classes.

``adapters.orm`` maps ``Project`` and ``Contract`` onto tables; nothing here knows about
SQLAlchemy, Flask or the broker."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from . import rules


@dataclass(frozen=True)
class CustomerInfo:
    """The customer facts that projects and contracts copy (seed 004 §4.2), as of one
    customer ``version``."""
    customer_id: int
    factory_id: str
    name: str | None
    contact: str | None
    phone: str | None
    version: int
    deleted: bool = False
    business_domain: str | None = None

    @classmethod
    def from_customer_data(cls, data: dict, factory_id: str | None = None) -> "CustomerInfo":
        """From a customer as customer-service shows it (an event's ``data`` or its
        ``GET /api/v1/customers/{id}`` body): snake_case, ``id``, ``version``."""
        try:
            customer_id = int(data["id"])
            version = int(data.get("version") or 0)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"customer data lacks a numeric id/version: {exc}") from exc
        return cls(customer_id=customer_id,
                   factory_id=str(data.get("factory_id") or factory_id or ""),
                   name=data.get("name"), contact=data.get("primary_contact_name"),
                   phone=data.get("primary_contact_phone"), version=version,
                   deleted=bool(data.get("deleted_at")),
                   business_domain=data.get("business_domain"))

    def project_values(self) -> dict[str, str | None]:
        return {"customer_name": self.name, "customer_contact": self.contact, "customer_phone": self.phone}

    def contract_values(self) -> dict[str, str | None]:
        return {"customer_name": self.name, "contact_person": self.contact, "contact_phone": self.phone}


def _assign_changed(target, values: dict) -> list[str]:
    """Incremental copy (seed 004 §4.3): write only the fields whose value differs."""
    changed = []
    for key, value in values.items():
        if getattr(target, key, None) != value:
            setattr(target, key, value)
            changed.append(key)
    return changed


class _Audited:
    business_domain: str | None = None  # the customer's (CONTRACT §3 scope)

    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)

    def touch(self, operator_id: str | None, operator_name: str | None, now: dt.datetime) -> None:
        self.updated_at = now
        self.updated_by = operator_id
        self.updated_by_name = operator_name


class Project(_Audited):
    """A project of one customer; keeps a copy of the customer's name, contact and phone,
    and belongs to the customer's business domain."""

    def copy_customer(self, info: CustomerInfo, *, operator_id: str | None, operator_name: str | None,
                      now: dt.datetime) -> list[str]:
        """Bring the customer fields up to ``info``; returns the fields written."""
        if int(self.customer_id) != info.customer_id:
            raise ValueError(f"project {self.id} belongs to customer {self.customer_id}, not {info.customer_id}")
        changed = _assign_changed(self, info.project_values())
        if changed:
            self.customer_synced_at = now
            self.touch(operator_id, operator_name, now)
        return changed

    def copy_customer_from_contract(self, contract: "Contract", *, operator_id: str | None,
                                    operator_name: str | None, now: dt.datetime) -> list[str]:
        """``sync-from-contract``: the contract's customer (and its copied fields) become the
        project's; returns the project fields written."""
        changed = _assign_changed(self, {"customer_id": contract.customer_id,
                                         **rules.project_values_from_contract(contract.customer_name,
                                                                              contract.contact_person,
                                                                              contract.contact_phone)})
        self.business_domain = contract.business_domain  # a customer's rows share its domain
        if changed:
            self.customer_synced_at = now
            self.touch(operator_id, operator_name, now)
        return changed

    def belong_to(self, info: CustomerInfo) -> list[str]:
        """Move the project to ``info``'s customer (and its business domain); the customer
        fields are copied separately (``copy_customer``)."""
        return _belong_to(self, info)

    def rename(self, name: str) -> list[str]:
        return _assign_changed(self, {"name": name})


class Contract(_Audited):
    """A contract of one customer, optionally for one project; keeps a copy of the
    customer's name, contact person and phone, and belongs to the customer's business domain."""

    def copy_customer(self, info: CustomerInfo, *, operator_id: str | None, operator_name: str | None,
                      now: dt.datetime) -> list[str]:
        if int(self.customer_id) != info.customer_id:
            raise ValueError(f"contract {self.id} belongs to customer {self.customer_id}, not {info.customer_id}")
        changed = _assign_changed(self, info.contract_values())
        if changed:
            self.customer_synced_at = now
            self.touch(operator_id, operator_name, now)
        return changed

    def belong_to(self, info: CustomerInfo) -> list[str]:
        return _belong_to(self, info)

    def change(self, values: dict) -> list[str]:
        return _assign_changed(self, values)


def _belong_to(row: _Audited, info: CustomerInfo) -> list[str]:
    changed = _assign_changed(row, {"customer_id": info.customer_id})
    row.business_domain = info.business_domain
    return changed


@dataclass
class SyncResult:
    """What one synchronisation of a customer changed (seed 004 §2.1 result shape)."""
    customer_id: int
    updated_projects: list[int]
    updated_contracts: list[int]
    project_fields: list[str]
    contract_fields: list[str]

    @property
    def updated_count(self) -> int:
        return len(self.updated_projects)

    @property
    def updated_fields(self) -> list[str]:
        return rules.ordered_fields(set(self.project_fields) | set(self.contract_fields))

    @property
    def message(self) -> str:
        return rules.projects_synced_message(self.updated_count)

    def as_dict(self) -> dict:
        return {"customer_id": self.customer_id, "success": True, "message": self.message,
                "updated_count": self.updated_count, "updated_projects": self.updated_projects,
                "updated_contracts": self.updated_contracts, "updated_fields": self.updated_fields,
                "project_fields": self.project_fields, "contract_fields": self.contract_fields}
