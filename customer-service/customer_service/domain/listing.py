"""How the tenant API (seed 001) sorts and pages customer lists: a whitelist of
sortable fields (camelCase names of the API -> attributes of the customer) and the page
arithmetic of its PageResponse. Pure functions, no database."""
from __future__ import annotations

import math
from dataclasses import dataclass

# API field name -> customer attribute. Only these may be sorted on (anything else is
# refused rather than passed to SQL). ``available_credit`` is computed, not stored.
SORT_FIELDS: dict[str, str] = {
    "createdAt": "created_at",
    "updatedAt": "updated_at",
    "name": "name",
    "customerCode": "customer_code",
    "type": "type",
    "industry": "industry_type",
    "contactPerson": "primary_contact_name",
    "rating": "rating",
    "creditLimit": "credit_limit",
    "currentBalance": "current_balance",
    "availableCredit": "available_credit",
    "paymentTerms": "payment_terms",
}
DEFAULT_SORT_BY = "createdAt"
SORT_ORDERS = ("asc", "desc")
DEFAULT_SORT_ORDER = "desc"


class SortNotAllowed(ValueError):
    """The caller asked to sort on a field or direction outside the whitelist."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Sort:
    attribute: str
    descending: bool


def parse_sort(sort_by: str | None, sort_order: str | None) -> Sort:
    """``sortBy``/``sortOrder`` of seed 001 §1.5 (defaults createdAt, desc)."""
    sort_by = sort_by or DEFAULT_SORT_BY
    order = (sort_order or DEFAULT_SORT_ORDER).lower()
    if sort_by not in SORT_FIELDS:
        raise SortNotAllowed("sortBy", f"不支持的排序字段 {sort_by}，可选: {', '.join(SORT_FIELDS)}")
    if order not in SORT_ORDERS:
        raise SortNotAllowed("sortOrder", "排序方向必须是 asc 或 desc")
    return Sort(SORT_FIELDS[sort_by], order == "desc")


def page_info(total: int, page: int, size: int) -> dict:
    """The paging half of seed 001's PageResponse (``page`` counts from 1)."""
    total_pages = math.ceil(total / size) if total > 0 else 0
    return {
        "totalElements": total,
        "totalPages": total_pages,
        "currentPage": page,
        "pageSize": size,
        "hasNext": page < total_pages,
        "hasPrevious": page > 1,
    }
