"""Seed 002's customer upsert keyed by the integrator's ``userId`` (CONTRACT §4: unique per
tenant by the partial index ``uq_customers_factory_user_id``). One unit of work writes the
customer and its ``customer.created`` / ``customer.updated`` event."""
from __future__ import annotations

from dataclasses import dataclass

from crm_common.context import RequestContext
from crm_common.errors import Conflict, NotFound

from ..domain import external_customer as rules
from .customers import add_customer, apply_update
from .unit_of_work import CustomerUnitOfWork


@dataclass(frozen=True)
class UpsertOutcome:
    customer_id: int
    user_id: str
    created: bool
    name: str | None = None    # the customer's values after the upsert (blanks never erase)
    phone: str | None = None


def upsert_external_customer(uow: CustomerUnitOfWork, ctx: RequestContext, user_id: str,
                             given: dict) -> UpsertOutcome:
    """Create the tenant's customer of ``user_id`` with the seed's defaults, or update it
    with the non-empty values of ``given`` (model field names).

    Two first calls racing for one ``userId``: the unique index lets one insert win; the
    other's insert fails and it runs again as an update, so the caller never sees it."""
    try:
        return _upsert_once(uow, ctx, user_id, given)
    except Conflict as exc:
        if not _lost_user_id_race(exc):
            raise
    return _upsert_once(uow, ctx, user_id, given)


def _lost_user_id_race(exc: Conflict) -> bool:
    return bool(exc.errors) and "userId" in exc.errors and exc.error_code == "CUSTOMER_DUPLICATED"


def _upsert_once(uow: CustomerUnitOfWork, ctx: RequestContext, user_id: str, given: dict) -> UpsertOutcome:
    with uow:
        customer = uow.customers.by_external_user_id(ctx.factory_id, user_id, for_update=True)
        if customer is None:
            fields = rules.fields_for_new_customer(given)
            fields.update(external_user_id=user_id, source=rules.EXTERNAL_SOURCE)
            customer = add_customer(uow, ctx, fields)
            created = True
        else:
            if not ctx.scope.allows(customer.business_domain):
                # Another business domain's customer: as invisible as another tenant's.
                raise NotFound("该 userId 的客户不存在或无权访问", error_code="CUSTOMER_NOT_FOUND",
                               errors={"userId": ["该 userId 的客户不存在或无权访问"]})
            if customer.is_deleted:
                raise Conflict("该 userId 对应的客户已被删除", error_code="CUSTOMER_DELETED",
                               errors={"userId": ["该 userId 对应的客户已被删除"]})
            apply_update(uow, ctx, customer, rules.non_blank(given))
            created = False
        uow.commit()
    return UpsertOutcome(customer.id, user_id, created, customer.name, customer.primary_contact_phone)
