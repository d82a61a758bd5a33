"""Handlers of the customer aggregate, one per operation, shared by every surface
(``/api/v1``, ``/api/mobile``, ``/api/external``), the bulk API and the imports: each takes
a command (``domain.commands``) and a unit of work, and has one set of side effects — the
customer row, its event in the outbox, its audit trail (status, rating, credit limit,
balance), and through the unit of work the read cache.

The pieces at the bottom (``draft``, ``identity_refusals``, ``insert``, ``change``) are the
steps that batch handlers (bulk, imports) compose with their own all-or-nothing or
record-by-record policies."""
from __future__ import annotations

from decimal import Decimal
from typing import Hashable, Iterable, Mapping

from crm_common import authz
from crm_common.context import RequestContext

from ..domain import commands, history, rules
from ..domain import external_customer as external
from ..domain.errors import (
    CodeImmutable,
    CodeTaken,
    CustomerDeleted,
    CustomerNotFound,
    DomainError,
    FinanceRoleRequired,
    NameTaken,
    Refusals,
    UserIdTaken,
    VersionMismatch,
)
from ..domain.model import Company, Customer, new_customer
from ..events import customer_event
from . import companies, external_sync
from .unit_of_work import CustomerUnitOfWork, UniqueViolation

ACTIVATION_REASONS = {True: "启用", False: "停用"}  # stored with the status history (seed 001 §3.1)


# --- single-customer handlers -------------------------------------------------------------------

def create_customer(cmd: commands.CreateCustomer, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §1.1 / seed 003 CreateCustomerUseCase: optional company upsert, the customer
    and its side effects, and for a customer from an outside system a SUCCESS external-sync
    row, in one transaction. Any failure rolls all of it back; an external import then
    leaves a FAILED row, written on its own. A remote record already imported as a live
    customer is refused, never created twice."""
    ctx = cmd.ctx
    origin = external_sync.external_origin(dict(cmd.fields), cmd.origin)
    fields = external_sync.adopt_origin(dict(cmd.fields), origin)
    try:
        with uow:
            if origin is not None:
                external_sync.refuse_repeated_import(uow, ctx, origin)
            customer = draft(uow, ctx, fields)
            company = companies.upsert_in(uow, ctx, cmd.company, default_domain_code=customer.business_domain) \
                if cmd.company else None
            refusal = identity_refusals(uow, ctx, {0: customer}).get(0)
            if refusal is not None:
                raise refusal
            insert(uow, ctx, [customer], company)
            if origin is not None:
                external_sync.record_success(uow, ctx, origin, customer.id, {"customer": fields, "company": cmd.company})
            uow.commit()
    except Exception as exc:
        if origin is not None:
            external_sync.record_failure(uow, ctx, origin, exc, {"customer": fields, "company": cmd.company})
        raise
    return customer


def sync_imported_customer(cmd: commands.SyncImportedCustomer, uow: CustomerUnitOfWork) -> list[str]:
    """Seed 003 / issue 21: a remote record that was imported as a customer comes again.
    In one transaction: the company upsert, the customer's changes (blank values never
    erase), its ``customer.updated`` and a SUCCESS external-sync row. Returns what changed;
    nothing changed (the same content again): nothing is written, no event. A failure rolls
    it all back and leaves a FAILED row, written on its own."""
    ctx, origin = cmd.ctx, cmd.origin
    payload = {"customer": dict(cmd.fields), "company": cmd.company}
    try:
        with uow:
            uow.external_sync.lock_remote(ctx.factory_id, origin.source, origin.remote_id)
            customer = load(uow, ctx, cmd.customer_id)
            changed: list[str] = []
            if cmd.company:
                company, created, company_changes = companies.upsert_changes(
                    uow, ctx, cmd.company, default_domain_code=customer.business_domain)
                changed += [f"company.{name}" for name in (["created"] if created else company_changes)]
                if customer.company_id != company.id:
                    customer.company = company
                    customer.touch(ctx.operator_id, ctx.operator_name, uow.now())
                    changed.append("company_id")
            fields = external.non_blank({k: v for k, v in cmd.fields.items() if k != "customer_code"})
            customer_changed = change(uow, ctx, customer, fields)
            if "company_id" in changed and not customer_changed:
                emit(uow, ctx, customer, "customer.updated", ["company_id"])
            changed += customer_changed
            if changed:
                external_sync.record_success(uow, ctx, origin, customer.id, payload)
                uow.commit()
    except Exception as exc:
        external_sync.record_failure(uow, ctx, origin, exc, payload)
        raise
    return changed


def update_customer(cmd: commands.UpdateCustomer, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §1.2 / seed 003: only the fields given change (``status`` along the state
    machine); the customer code never changes; a credit limit needs a finance role."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id, expected_version=cmd.expected_version)
        change(uow, cmd.ctx, customer, cmd.changes, options={"auto_sync": bool(cmd.auto_sync)})
        uow.commit()
    return customer


def change_status(cmd: commands.ChangeStatus, uow: CustomerUnitOfWork) -> Customer:
    """Seed 003 UpdateCustomerStatusUseCase: the state machine, the operator, the history."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id, expected_version=cmd.expected_version)
        change(uow, cmd.ctx, customer, {"status": cmd.status}, reason=cmd.reason)
        uow.commit()
    return customer


def set_active(cmd: commands.SetActive, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §3.1 on the status state machine (``rules.status_for_activation``)."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id, expected_version=cmd.expected_version)
        target = rules.status_for_activation(customer.status, cmd.active)
        if target is not None:
            change(uow, cmd.ctx, customer, {"status": target}, reason=ACTIVATION_REASONS[cmd.active])
        uow.commit()
    return customer


def rate_customer(cmd: commands.RateCustomer, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §3.2: the rating and its notes, with a rating-history row per change."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id)
        change(uow, cmd.ctx, customer, {"rating": cmd.rating, "rating_notes": cmd.notes})
        uow.commit()
    return customer


def set_credit_limit(cmd: commands.SetCreditLimit, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §4.1: kept (and audited) even below the current debt; the reply warns."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id)
        change(uow, cmd.ctx, customer, {"credit_limit": Decimal(cmd.credit_limit)})
        uow.commit()
    return customer


def set_balance(cmd: commands.SetBalance, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §4.2: the new balance (negative = owes) and a balance transaction per
    change; ``debt_since`` and ``last_payment_date`` follow (``Customer.set_balance``)."""
    ctx = cmd.ctx
    with uow:
        customer = load(uow, ctx, cmd.customer_id)
        now = uow.now()
        old_balance, before = Decimal(customer.current_balance), (customer.debt_since, customer.last_payment_date)
        if customer.set_balance(Decimal(cmd.balance), now) != 0:
            customer.touch(ctx.operator_id, ctx.operator_name, now)
            changed = ["current_balance"]
            if customer.debt_since != before[0]:
                changed.append("debt_since")
            if customer.last_payment_date != before[1]:
                changed.append("last_payment_date")
            emit(uow, ctx, customer, "customer.updated", changed)
            uow.history.add([history.balance_change(customer, old_balance, "adjustment", ctx, now)])
        uow.commit()
    return customer


def delete_customer(cmd: commands.DeleteCustomer, uow: CustomerUnitOfWork) -> Customer:
    """Seed 001 §1.3: soft delete, refused while the customer owes money or has open orders."""
    with uow:
        customer = load(uow, cmd.ctx, cmd.customer_id, expected_version=cmd.expected_version)
        remove(uow, cmd.ctx, customer)
        uow.commit()
    return customer


def upsert_external_customer(cmd: commands.UpsertExternalCustomer, uow: CustomerUnitOfWork) -> tuple[Customer, bool]:
    """Seed 002: create the tenant's customer of ``user_id`` with the seed's defaults, or
    update it with the values given that are not blank; ``(customer, created)``.

    Two first calls racing for one ``user_id``: the unique index lets one insert win; the
    other runs again as an update, so that the caller never sees the race."""
    try:
        return _upsert_external(cmd, uow)
    except UserIdTaken:
        return _upsert_external(cmd, uow)


def _upsert_external(cmd: commands.UpsertExternalCustomer, uow: CustomerUnitOfWork) -> tuple[Customer, bool]:
    ctx = cmd.ctx
    with uow:
        customer = uow.customers.by_external_user_id(ctx.factory_id, cmd.user_id, for_update=True)
        created = customer is None
        if created:
            fields = external.fields_for_new_customer(cmd.fields)
            fields.update(external_user_id=cmd.user_id, source=external.EXTERNAL_SOURCE)
            customer = draft(uow, ctx, fields)
            insert(uow, ctx, [customer])
        elif not ctx.scope.allows(customer.business_domain):
            raise CustomerNotFound(field="external_user_id")  # as invisible as another tenant's
        elif customer.is_deleted:
            raise CustomerDeleted()
        else:
            change(uow, ctx, customer, external.non_blank(cmd.fields))
        uow.commit()
    return customer, created


# --- the steps every handler composes -------------------------------------------------------------

def may_change_money(ctx: RequestContext) -> bool:
    return authz.allows("customer.finance", ctx.principal.roles)


def load(uow: CustomerUnitOfWork, ctx: RequestContext, customer_id: int, *, for_update: bool = True,
         expected_version: int | None = None, include_deleted: bool = False) -> Customer:
    """The live customer of the caller's tenant and domains (locked for a write), else 404;
    412 when ``expected_version`` (If-Match) is not its version."""
    customer = uow.customers.get(ctx.factory_id, customer_id, ctx.scope, for_update=for_update,
                                 include_deleted=include_deleted)
    if customer is None:
        raise CustomerNotFound()
    if expected_version is not None and customer.version != expected_version:
        raise VersionMismatch(current=customer.version)
    return customer


def emit(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer, event_type: str,
         changed: Iterable[str] = (), options: dict | None = None) -> None:
    """The customer's event, once its id and version are assigned (a flush)."""
    flush(uow, customer)
    uow.add_event(customer_event(customer, event_type, ctx, changed, options))


def flush(uow: CustomerUnitOfWork, customer: Customer | None = None) -> None:
    """Flush; an identity the database refuses for ``customer`` is the refusal naming it
    (for a batch, ``customer=None``, the ``UniqueViolation`` itself)."""
    try:
        uow.flush()
    except UniqueViolation as exc:
        if customer is None:
            raise
        raise refusal_for(exc, customer) from exc


def refusal_for(violation: UniqueViolation, customer: Customer | None) -> DomainError:
    name = getattr(customer, "name", None)
    if violation.what == "user_id":
        return UserIdTaken()
    if violation.what == "code":
        return CodeTaken(code=getattr(customer, "customer_code", None))
    if violation.what == "name":
        return NameTaken(name=name)
    raise violation


def draft(uow: CustomerUnitOfWork, ctx: RequestContext, fields: Mapping) -> Customer:
    """A new customer of the caller's tenant (not yet added): its business domain (given,
    or the caller's default) must be one the caller may see, and an opening balance needs a
    finance role."""
    fields = dict(fields)
    fields["business_domain"] = fields.get("business_domain") or rules.default_domain(ctx.scope)
    ctx.scope.require(fields["business_domain"])
    if Decimal(fields.get("current_balance") or 0) != 0 and not may_change_money(ctx):
        raise FinanceRoleRequired(field="current_balance")
    return new_customer(ctx.factory_id, fields, operator_id=ctx.operator_id, operator_name=ctx.operator_name,
                        now=uow.now())


def identity_refusals(uow: CustomerUnitOfWork, ctx: RequestContext,
                      customers: Mapping[Hashable, Customer]) -> dict[Hashable, DomainError]:
    """CONTRACT §4 identity of each new customer (keyed as given, checked in the mapping's
    order): a customer code taken in the tenant (deleted customers keep theirs), a name
    taken by a live customer (customers identified by an external ``userId`` aside), or
    either taken by an earlier customer of the mapping (``earlier``: its key). Friendly
    refusals before the unique indexes, which stay the real guarantee."""
    names, codes = uow.customers.identities_taken(
        ctx.factory_id, [c.name for c in customers.values() if c.name and c.external_user_id is None],
        [c.customer_code for c in customers.values()])
    first_code: dict[str, Hashable] = {}
    first_name: dict[str, Hashable] = {}
    refused: dict[Hashable, DomainError] = {}
    for key, customer in customers.items():
        found: list[DomainError] = []
        code, name = customer.customer_code, customer.name if customer.external_user_id is None else None
        if code in codes or code in first_code:
            found.append(CodeTaken(code=code, earlier=first_code.get(code)))
        if name and (name in names or name in first_name):
            found.append(NameTaken(name=name, earlier=first_name.get(name)))
        if found:
            refused[key] = Refusals.of(found)
            continue
        first_code[code] = key
        if name:
            first_name[name] = key
    return refused


def insert(uow: CustomerUnitOfWork, ctx: RequestContext, customers: list[Customer],
           company: Company | None = None) -> None:
    """New customers (checked) with their side effects: one multi-row INSERT, a
    ``customer.created`` event each (one multi-row INSERT into the outbox), the audit rows of
    opening credit limits and balances."""
    for customer in customers:
        customer.company = company
        uow.customers.add(customer)
    flush(uow, customers[0] if len(customers) == 1 else None)  # ids and versions assigned
    now = uow.now()
    uow.add_events([customer_event(customer, "customer.created", ctx) for customer in customers])
    entries: list[history.Change] = []
    for customer in customers:
        entries.extend(history.opening_entries(customer, ctx, now))
    uow.history.add(entries)


def change(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer, changes: Mapping, *,
           options: dict | None = None, reason: str | None = None) -> list[str]:
    """Apply changes to a loaded customer with every rule and side effect of a change:
    domain scope, unique name, finance role for the credit limit, the status state
    machine; one ``customer.updated`` naming what changed; the status, rating and credit
    limit history. Returns the fields that changed."""
    changes = dict(changes)
    code = changes.pop("customer_code", None)
    if code is not None and code != customer.customer_code:
        raise CodeImmutable()
    status = changes.pop("status", None)
    if changes.get("business_domain") not in (None, customer.business_domain):
        ctx.scope.require(changes["business_domain"])
    if "credit_limit" in changes and Decimal(changes["credit_limit"]) != Decimal(customer.credit_limit) \
            and not may_change_money(ctx):
        raise FinanceRoleRequired(field="credit_limit")
    name = changes.get("name")
    if name and name != customer.name and customer.external_user_id is None \
            and uow.customers.names_taken(ctx.factory_id, [name], exclude_id=customer.id):
        raise NameTaken(name=name)
    now = uow.now()
    old_limit, old_rating = customer.credit_limit, customer.rating
    changed = customer.apply_changes(changes, operator_id=ctx.operator_id, operator_name=ctx.operator_name, now=now)
    entries: list[history.Change] = []
    if status is not None:
        previous = customer.change_status(status, operator_id=ctx.operator_id, operator_name=ctx.operator_name,
                                          now=now)
        if previous is not None:
            changed.append("status")
            entries.append(history.status_change(customer, previous, reason, ctx, now))
    if not changed:
        return changed
    emit(uow, ctx, customer, "customer.updated", changed, options)
    if "credit_limit" in changed:
        entries.append(history.credit_limit_change(customer, old_limit, ctx, now))
    if "rating" in changed or "rating_notes" in changed:
        entries.append(history.rating_change(customer, old_rating, ctx, now))
    uow.history.add(entries)
    return changed


def remove(uow: CustomerUnitOfWork, ctx: RequestContext, customer: Customer) -> None:
    """Soft delete (refused while the customer owes money or has open orders) and its event."""
    customer.soft_delete(operator_id=ctx.operator_id, operator_name=ctx.operator_name, now=uow.now())
    emit(uow, ctx, customer, "customer.deleted", ["deleted_at"])

