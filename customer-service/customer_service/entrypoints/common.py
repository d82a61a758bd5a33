"""What every surface's views share: a customer with its credit position as of the
business's today, and schema helpers (ids bounded by their columns, null as "use the
default", array bodies). Ids in paths are bounded by crm_common's ``int`` converter."""
from __future__ import annotations

import marshmallow as ma

from crm_common.schemas import in_range

from ..bootstrap import customer_service
from ..domain.model import Customer

MAX_ID = 2**63 - 1  # BIGINT: every id column


class RecordId(ma.fields.Integer):
    """An id in a body: a positive integer within the id columns' range (never a boolean)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", in_range(1, MAX_ID))
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool):
            raise self.make_error("invalid")
        return super()._deserialize(value, attr, data, **kwargs)


class ArrayBody(ma.Schema):
    """Loaded with ``many=True`` (a JSON array body), anything but an array (``false``,
    ``null``, ``1``, an object) is 400 before any item is looked at."""

    @ma.pre_load(pass_collection=True)
    def refuse_what_is_not_an_array(self, data, many, **_):
        if many and not isinstance(data, list):
            raise ma.ValidationError("请求体应为 JSON 数组", field_name="_schema")
        return data


class NullMeansDefault(ma.Schema):
    """JSON ``null`` for an optional field that cannot be empty (one with a default) is the
    same as leaving it out: a create takes the default, an update keeps the value. Fields
    declared ``allow_none`` keep ``null`` (it clears them); required ones still refuse it."""

    @ma.pre_load(pass_collection=False)
    def drop_null_defaults(self, data, **_):
        if not isinstance(data, dict):
            return data
        droppable = {f.data_key or name for name, f in self.load_fields.items() if not f.allow_none and not f.required}
        return {key: value for key, value in data.items() if not (value is None and key in droppable)}


def with_position(customer: Customer) -> Customer:
    """The customer with ``position``: its credit position (``domain.model.CreditPosition``:
    overdue, risk...) as of the business's today, what responses show of it."""
    if getattr(customer, "position", None) is None:
        service = customer_service()
        customer.position = customer.credit_position(service.today(), service.timezone)
    return customer


TOTAL_ESTIMATED_HEADER = "X-Total-Estimated"  # a page whose total is an estimate (adapters.repository.Total)


def total_headers(total) -> dict | None:
    """``X-Total-Estimated: true`` when a page's total is the planner's estimate."""
    return None if getattr(total, "exact", True) else {TOTAL_ESTIMATED_HEADER: "true"}
