"""Use cases of viewing records (seed 002): record one viewing (customer upsert through
customer-service, property enrichment, record upsert + its event in one unit of work), list
a user's records, and the all-tenant snapshot for read-model rebuilds."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sqlalchemy.exc import IntegrityError

from crm_common.context import RequestContext
from crm_common.db import unique_violation
from crm_common.errors import NotFound

from ..adapters.repository import RecordFilter
from ..domain import model
from ..domain.commands import LearnCustomerDomain, ListChangedRecords, ListUserRecords, RecordViewing, TakeSnapshot
from ..domain.model import ViewingRecord
from .events import RECORDED, UPDATED, record_state, viewing_event
from .unit_of_work import ServiceUnitOfWork

USER_NOT_VISIBLE = "该 userId 的客户不存在或无权访问"


class Customers(Protocol):
    """customer-service as the caller sees it (adapters.customer_service.CustomerDirectory)."""

    def upsert(self, payload: dict): ...


class Properties(Protocol):
    def find(self, property_name: str, property_address: str | None) -> dict | None: ...


@dataclass(frozen=True)
class RecordOutcome:
    record: ViewingRecord
    record_action: str
    customer_id: int
    customer_action: str
    enriched: bool
    property_data: dict | None

    @property
    def message(self) -> str:
        return model.reply_message(self.record_action, self.customer_action, self.enriched)


def customer_payload(user_id: str, given: dict) -> dict:
    """What a viewing tells customer-service about its customer (blank values left out)."""
    payload = {"userId": user_id, "botId": given.get("bot_id"), "name": given.get("customer_name"),
               "phone": given.get("customer_phone")}
    return {key: value for key, value in payload.items() if value is not None}


def record_viewing(cmd: RecordViewing, uow: ServiceUnitOfWork, *, customers: Customers,
                   properties: Properties | None, timezone: str) -> RecordOutcome:
    """Everything that can fail outside our database happens first: customer-service
    unreachable -> ``ServiceUnavailable`` and nothing written (the caller retries safely)."""
    given = model.non_blank(cmd.fields)
    # The upsert answers the customer's current name and phone: the snapshot's missing half.
    customer = customers.upsert(customer_payload(cmd.user_id, given))
    property_data = properties.find(given["property_name"], given.get("property_address")) if properties else None
    fields = model.fill_from_property(given, property_data)
    if "viewing_time" in fields:
        fields["viewing_time"] = model.as_utc(fields["viewing_time"], timezone)
    snapshot = model.non_blank({"customer_name": customer.name, "customer_phone": customer.phone})
    identity = model.record_identity(given["property_name"], given.get("property_address"))
    write = dict(uow=uow, ctx=cmd.ctx, user_id=cmd.user_id, identity=identity, customer_id=customer.id,
                 domain=customer.business_domain, fields=fields, snapshot=snapshot, property_data=property_data)
    try:
        record, action = _write_record(**write)
    except IntegrityError as exc:
        if unique_violation(exc) is None:
            raise
        record, action = _write_record(**write)  # a concurrent first call inserted it: update
    return RecordOutcome(record, action, customer.id, model.CREATED if customer.created else model.UPDATED,
                         bool(property_data), property_data)


def _write_record(*, uow: ServiceUnitOfWork, ctx: RequestContext, user_id: str, identity: str,
                  customer_id: int, domain: str | None, fields: dict, snapshot: dict, property_data: dict | None):
    with uow:
        now = uow.now()
        if domain is not None:  # customer-service said so; its events say it again, versioned
            uow.customer_domains.learn_if_unknown(customer_id, ctx.factory_id, domain, now=now)
        record = uow.records.by_identity(ctx.factory_id, user_id, identity, for_update=True)
        if record is None:
            record = ViewingRecord(
                factory_id=ctx.factory_id, user_id=user_id, identity_key=identity, customer_id=customer_id,
                external_property_enriched=bool(property_data), external_property_data=property_data,
                created_at=now, created_by=ctx.operator_id, updated_at=now, updated_by=ctx.operator_id,
                **model.fields_for_new_record({**snapshot, **fields}, now))
            uow.records.add(record)
            uow.flush()  # id and version 1
            uow.add_event(viewing_event(RECORDED, ctx, record))
            action = model.CREATED
        else:
            changes = dict(fields)
            for key, value in snapshot.items():
                if key not in changes and getattr(record, key) is None:
                    changes[key] = value
            if property_data:
                changes.update(external_property_enriched=True, external_property_data=property_data)
            changed = record.apply_changes(changes, now)
            if record.customer_id != customer_id:
                record.customer_id = customer_id
                record.updated_at = now
                changed.append("customer_id")
            if changed:
                record.updated_by = ctx.operator_id
                uow.flush()  # bumps the record's version
                uow.add_event(viewing_event(UPDATED, ctx, record, changed))
            action = model.UPDATED
        uow.commit()
    return record, action


def list_user_records(cmd: ListUserRecords, uow: ServiceUnitOfWork, *, timezone: str) -> dict:
    """One user's records in the caller's tenant, newest viewing first. ``date_from`` /
    ``date_to`` are inclusive calendar dates of ``viewing_time`` in ``timezone``. The seed
    fixes the page: ``{data, total, page, pageSize, totalPages}``. A user whose customer is
    outside the caller's business domains is 404, as customer-service answers for it; a
    user with no records at all is an empty page (seed 002)."""
    page_size = min(cmd.page_size, model.MAX_PAGE_SIZE)
    start, end = model.calendar_window(cmd.date_from, cmd.date_to, timezone)
    flt = RecordFilter(property_name=cmd.property_name, viewing_status=cmd.viewing_status,
                       business_type=cmd.business_type, viewer_name=cmd.viewer_name,
                       viewing_from=start, viewing_until=end)
    ctx = cmd.ctx
    with uow:
        if not ctx.scope.everything and not uow.records.user_has_records(ctx.factory_id, cmd.user_id, ctx.scope) \
                and uow.records.user_has_records(ctx.factory_id, cmd.user_id):
            raise NotFound(USER_NOT_VISIBLE, error_code="CUSTOMER_NOT_FOUND", errors={"userId": [USER_NOT_VISIBLE]})
        items, total = uow.records.page_of_user(ctx.factory_id, ctx.scope, cmd.user_id, flt, page=cmd.page,
                                                page_size=page_size)
    return {"data": items, "total": total, "page": cmd.page, "pageSize": page_size,
            "totalPages": model.total_pages(total, page_size)}


def list_changed_records(cmd: ListChangedRecords, uow: ServiceUnitOfWork) -> dict:
    """Every record of the tenant (in the caller's business domains) changed at or after
    ``updated_since``, in (``updated_at``, ``id``) order: ``{data, pageSize, next_cursor}``,
    the seed's names for the list and its size, CONTRACT §4's for the cursor."""
    page_size = min(cmd.page_size, model.MAX_PAGE_SIZE)
    with uow:
        items, next_cursor = uow.records.changed(cmd.ctx.factory_id, cmd.ctx.scope, page_size=page_size,
                                                 updated_since=cmd.updated_since, cursor=cmd.cursor)
    return {"data": items, "pageSize": page_size, "next_cursor": next_cursor}


def take_snapshot(cmd: TakeSnapshot, uow: ServiceUnitOfWork) -> dict:
    """A page of every tenant's records in id order; ``next_after_id`` continues it
    (``None``: this was the last page)."""
    with uow:
        rows = uow.records.snapshot(cmd.after_id, cmd.limit)
        items = [record_state(r) for r in rows]
    return {"items": items, "next_after_id": rows[-1].id if len(rows) == cmd.limit else None}


# --- customer events ------------------------------------------------------------------------------

def learn_customer_domain(cmd: LearnCustomerDomain, uow: ServiceUnitOfWork) -> None:
    """Keep the customer's business domain as of its newest event (never an older one)."""
    with uow:
        uow.customer_domains.learn(cmd.customer_id, cmd.factory_id, cmd.business_domain, cmd.version,
                                   now=uow.now())
        uow.commit()
