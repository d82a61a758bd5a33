"""Rules of the bulk customer API (seed 000), no database: the request limit and the order
in which records are processed. The batch status (200/201, 207, 400) is the one rule of
``crm_common.batch``."""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

BULK_LIMIT = 100  # seed 000 §注意事项 3: at most 100 records per request

T = TypeVar("T")


def processing_order(items: Sequence[T], key: Callable[[T], object]) -> list[int]:
    """Indexes of ``items`` in a deterministic lock order (by ``key``, then position).

    Concurrent batches touching the same names or ids then take their row and index
    locks in the same order and cannot deadlock; among equal keys the earlier record
    goes first, so a duplicate inside one request fails the later record."""
    present = [i for i in range(len(items)) if key(items[i]) is not None]
    absent = [i for i in range(len(items)) if key(items[i]) is None]
    return sorted(present, key=lambda i: (key(items[i]), i)) + absent


def is_record_id(value) -> bool:
    """A customer id in a request body: a positive integer (booleans are not ids)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
