"""Rules of the bulk customer API (seed 000), no database: request limits, the order in
which records are processed, and the response status of a batch."""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

BULK_LIMIT = 100  # seed 000 §注意事项 3: at most 100 records per request

NO_CUSTOMERS = "必须提供至少一个客户"
NO_IDS = "必须提供至少一个客户ID"
RECORD_NEEDS_ID = "每个客户记录必须包含ID"
TOO_MANY = f"每次批量操作最多 {BULK_LIMIT} 条记录"
ALL_FAILED = "所有记录均处理失败"
RETRY_LATER = "并发冲突，请稍后重试"

T = TypeVar("T")


def batch_status(succeeded: int, failed: int, success_status: int) -> int:
    """All succeeded: ``success_status`` (201 create, 200 otherwise); some: 207;
    none: 400 (the per-record detail still travels in ``data``)."""
    if failed == 0:
        return success_status
    if succeeded == 0:
        return 400
    return 207


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
