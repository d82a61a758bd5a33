"""Optional Redis read cache of customer detail (seed 003 ``RedisCacheGateway``).

Key ``{prefix}customer:{factory}:{id}`` (the factory keeps tenants apart). The value is
the customer's stored state, its company and its groups; reads rebuild a detached
``Customer`` so that views serialise it exactly as one read from the database.

Stale fills are impossible by construction: a write, after its commit, overwrites the
key with a unique tombstone; a reader notes what the key held before reading the
database and fills only if the key still holds exactly that (compare-and-set in one Lua
call). A reader that loaded the old row before the write committed therefore cannot put
it back. Redis failures never fail a request: the cache logs, steps aside for a few
seconds, and the database serves.
"""
from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Iterable

import sqlalchemy as sa
from sqlalchemy import event as sa_event

from crm_common.logs import get_logger

from ..domain.model import Company, Customer, OrderSummary
from . import orm

log = get_logger("customer.cache")
TOMBSTONE_PREFIX = "__invalidated__:"
NOTHING = ""  # the stamp of a key that held nothing

# Fill only when the key still holds what the reader saw before reading the database.
_FILL_IF_UNCHANGED = """
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] == '') or current == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
  return 1
end
return 0
"""


# --- codec ---------------------------------------------------------------------------------

def _plain(value):
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _typed(table: sa.Table, row: dict) -> dict:
    out = {}
    for col in table.columns:
        if col.name not in row:
            continue
        value = row[col.name]
        if value is not None:
            kind = col.type
            if isinstance(kind, sa.types.TypeDecorator):
                kind = kind.impl
            if isinstance(kind, sa.DateTime):
                value = dt.datetime.fromisoformat(value)
            elif isinstance(kind, sa.Date):
                value = dt.date.fromisoformat(value)
            elif isinstance(kind, sa.Numeric) and not isinstance(kind, (sa.Integer, sa.Float)):
                value = Decimal(value)
        out[col.name] = value
    return out


def _state(obj, table: sa.Table) -> dict | None:
    return None if obj is None else {col.name: _plain(getattr(obj, col.name, None)) for col in table.columns}


def encode_customer(customer: Customer) -> str:
    return json.dumps({"customer": _state(customer, orm.customers),
                       "company": _state(getattr(customer, "company", None), orm.companies),
                       "orders": _state(getattr(customer, "orders", None), orm.customer_orders),
                       "groups": getattr(customer, "groups", [])}, ensure_ascii=False)


def decode_customer(text: str) -> Customer:
    raw = json.loads(text)
    customer = Customer(**_typed(orm.customers, raw["customer"]))
    customer.company = Company(**_typed(orm.companies, raw["company"])) if raw.get("company") else None
    orders = _typed(orm.customer_orders, raw["orders"]) if raw.get("orders") else None
    customer.orders = OrderSummary(**{k: v for k, v in orders.items() if k != "updated_at"}) if orders else None
    customer.groups = raw.get("groups") or []
    return customer


# --- the cache -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Lookup:
    """A cache read: the customer on a hit; on a miss the ``stamp`` the key held (pass it
    to ``fill``), or ``None`` when the cache is unavailable (then do not fill)."""
    customer: Customer | None
    stamp: str | None


class CustomerCache:
    def __init__(self, client, *, prefix: str = "", ttl: int = 60, tombstone_ttl: int = 600,
                 pause_after_error: float = 5.0):
        self.client = client
        self.prefix = prefix
        self.ttl = ttl
        self.tombstone_ttl = tombstone_ttl
        self.pause_after_error = pause_after_error
        self._paused_until = 0.0
        self._fill_script = client.register_script(_FILL_IF_UNCHANGED)

    @classmethod
    def from_url(cls, url: str, **kw) -> "CustomerCache":
        import redis
        client = redis.Redis.from_url(url, socket_timeout=0.25, socket_connect_timeout=0.25,
                                      retry_on_timeout=False, decode_responses=True)
        return cls(client, **kw)

    def key(self, factory_id: str, customer_id: int) -> str:
        return f"{self.prefix}customer:{factory_id}:{int(customer_id)}"

    # Redis down => step aside for a while, the database serves.
    def _available(self) -> bool:
        return time.monotonic() >= self._paused_until

    def _failed(self, op: str, exc: Exception) -> None:
        self._paused_until = time.monotonic() + self.pause_after_error
        log.warning("cache_unavailable", op=op, error=type(exc).__name__, detail=str(exc)[:200])

    def get(self, factory_id: str, customer_id: int) -> Lookup:
        if not self._available():
            return Lookup(None, None)
        try:
            text = self.client.get(self.key(factory_id, customer_id))
        except Exception as exc:  # noqa: BLE001 - any Redis failure means "not cached"
            self._failed("get", exc)
            return Lookup(None, None)
        if not text or text.startswith(TOMBSTONE_PREFIX):
            return Lookup(None, text or NOTHING)
        try:
            return Lookup(decode_customer(text), None)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("cache_entry_unreadable", customer_id=customer_id, error=type(exc).__name__)
            return Lookup(None, text)

    def fill(self, customer: Customer, stamp: str | None) -> None:
        """Store what was read from the database, unless a write invalidated the key since
        the reader's ``get`` (its stamp changed)."""
        if stamp is None or not self._available():
            return
        try:
            self._fill_script(keys=[self.key(customer.factory_id, customer.id)],
                              args=[stamp, encode_customer(customer), self.ttl])
        except Exception as exc:  # noqa: BLE001
            self._failed("fill", exc)

    def invalidate(self, keys: Iterable[tuple[str, int]]) -> None:
        """Mark these customers stale: ``keys`` are ``(factory_id, customer_id)`` pairs.
        Tried even while paused: a write must not leave a stale entry behind."""
        keys = list(keys)
        if not keys:
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for factory_id, customer_id in keys:
                pipe.set(self.key(factory_id, customer_id), TOMBSTONE_PREFIX + uuid.uuid4().hex,
                         ex=self.tombstone_ttl)
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            # Entries written before this write expire with their TTL.
            self._failed("invalidate", exc)

    def ping(self) -> tuple[bool, str]:
        try:
            self.client.ping()
            return True, "ok"
        except Exception as exc:  # noqa: BLE001
            return False, type(exc).__name__


# --- invalidation after commit, for any session --------------------------------------------

TOUCHED = "touched_customers"


def touch(session, factory_id: str, customer_ids) -> None:
    """Name customers whose cached view this transaction changes (beyond what the ORM
    flushes, e.g. group memberships or customer events written with Core)."""
    session.info.setdefault(TOUCHED, set()).update((factory_id, int(cid)) for cid in customer_ids)


def invalidate_on_commit(session, cache: "CustomerCache | None") -> None:
    """Attach to a session (a unit of work's, or a consumer's): every Customer it flushes
    and every customer ``touch``-ed is marked stale in the cache once a commit succeeded;
    a rollback forgets them."""
    if cache is None or session.info.get("customer_cache_hooked"):
        return
    session.info["customer_cache_hooked"] = True

    @sa_event.listens_for(session, "after_flush")
    def _flushed(sess, _flush_context):
        for obj in (*sess.new, *sess.dirty, *sess.deleted):
            if isinstance(obj, Customer) and getattr(obj, "id", None) is not None:
                touch(sess, obj.factory_id, [obj.id])

    @sa_event.listens_for(session, "after_commit")
    def _committed(sess):
        if sess.in_nested_transaction():  # a released savepoint: the transaction goes on
            return
        cache.invalidate(sess.info.pop(TOUCHED, set()))

    @sa_event.listens_for(session, "after_rollback")
    def _rolled_back(sess):
        if not sess.in_nested_transaction():  # a failed record's savepoint keeps the others'
            sess.info.pop(TOUCHED, None)
