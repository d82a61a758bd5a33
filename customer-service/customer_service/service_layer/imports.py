"""Seed 001 §6.4: a JSON list of customers imported all or nothing, with the same steps as a
single create (``customers``); the Excel import (each row alone) is ``bulk.import_rows``."""
from __future__ import annotations

from crm_common.errors import AppError

from ..domain import commands
from ..domain.errors import BatchRefused, ConcurrentWrite, DomainError
from ..domain.model import Customer
from . import customers
from .unit_of_work import CustomerUnitOfWork, UniqueViolation


def import_customers(cmd: commands.ImportCustomers, uow: CustomerUnitOfWork) -> list[Customer]:
    """Every customer is created, or none: each problem is reported by the item's index (a
    code or name taken, also by an earlier item of the list) and nothing is written."""
    ctx = cmd.ctx
    with uow:
        drafts: dict[int, Customer] = {}
        refused: dict[int, DomainError] = {}
        for index, fields in enumerate(cmd.customers):
            try:
                drafts[index] = customers.draft(uow, ctx, fields)
            except AppError as exc:  # a refusal, or a business domain the caller may not use
                refused[index] = exc
        refused.update(customers.identity_refusals(uow, ctx, drafts))
        if refused:
            raise BatchRefused(refused)
        try:
            customers.insert(uow, ctx, list(drafts.values()))
        except UniqueViolation as exc:  # a concurrent writer took a name or code meanwhile
            raise ConcurrentWrite() from exc
        uow.commit()
    return list(drafts.values())
