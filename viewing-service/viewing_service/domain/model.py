"""Viewing records (seed 002 带看记录) and their rules as plain Python: enums, defaults,
the identity of a record, the COALESCE merge, property enrichment, reply messages and
date windows. No Flask, SQLAlchemy or HTTP here."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Mapping
from zoneinfo import ZoneInfo

VIEWING_STATUSES = {1: "待确认", 2: "已确认", 3: "已取消", 4: "已带看"}
VIEWING_FEEDBACKS = {0: "未成交", 1: "已成交"}
BUSINESS_TYPES = {"whole_rent": "整租", "shared_rent": "合租", "centralized": "集中"}
ROOM_TYPES = {
    "one_bedroom": "一室", "two_bedroom": "两室", "three_bedroom": "三室",
    "four_plus": "四室及以上", "master_room": "主卧", "second_room": "次卧",
}

# Seed defaults of a new record (viewing_time defaults to "now", given by the caller).
CREATE_DEFAULTS = {
    "room_type": "one_bedroom",
    "viewer_name": "external",
    "viewing_status": 1,
    "commission": Decimal(0),
    "business_type": "whole_rent",
}

# The property fields an external property service may fill in: request name -> attribute.
PROPERTY_FIELDS = {
    "housingId": "housing_id", "houseAreaId": "house_area_id", "houseAreaName": "house_area_name",
    "cityId": "city_id", "cityName": "city_name", "propertyAddrId": "property_addr_id",
    "unitType": "unit_type", "longitude": "longitude", "latitude": "latitude", "roomId": "room_id",
    "advisorId": "advisor_id", "advisorName": "advisor_name", "companyName": "company_name",
    "companyAbbreviation": "company_abbreviation", "houseTypeId": "house_type_id",
}

# Every field a caller may write (attribute names; the request uses the seed's names).
WRITABLE_FIELDS = frozenset({
    "bot_id", "customer_name", "customer_phone", "viewing_time", "property_name", "property_address",
    "room_type", "room_tag", "viewer_name", "viewing_status", "commission", "viewing_feedback",
    "business_type", "notes", *PROPERTY_FIELDS.values(),
})

CREATED, UPDATED = "created", "updated"
MAX_PAGE_SIZE = 100  # a larger pageSize is served as 100


class ViewingRecord:
    """One viewing of one property by one integrator user (``userId``) in one tenant."""

    def __init__(self, **fields):
        for key, value in fields.items():
            setattr(self, key, value)

    def apply_changes(self, changes: Mapping, now: dt.datetime) -> list[str]:
        """Set the given fields; returns the names that really changed."""
        changed = []
        for key, value in changes.items():
            if key not in WRITABLE_FIELDS and key not in ("external_property_enriched", "external_property_data"):
                raise ValueError(f"{key} is not writable")
            if getattr(self, key, None) != value:
                setattr(self, key, value)
                changed.append(key)
        if changed:
            self.updated_at = now
        return changed


# --- identity ---------------------------------------------------------------------------------

def record_identity(property_name: str, property_address: str | None) -> str:
    """What makes two calls the same record, besides tenant and ``userId`` (seed Q2: userId +
    property_address). Without an address, the property name stands in for it, so a retried
    call without an address still updates its record instead of duplicating it."""
    address = (property_address or "").strip()
    if address:
        return "address:" + address
    return "name:" + property_name.strip()


# --- merging -------------------------------------------------------------------------------

def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def non_blank(given: Mapping) -> dict:
    """COALESCE: only values that are there overwrite; null, "" and absent never erase."""
    return {key: value for key, value in given.items() if not is_blank(value)}


def fields_for_new_record(given: Mapping, now: dt.datetime) -> dict:
    """A new record's fields: what was given, then the seed's defaults (viewing_time: now)."""
    fields = {**CREATE_DEFAULTS, "viewing_time": now}
    fields.update(non_blank(given))
    return fields


def fill_from_property(given: Mapping, property_data: Mapping | None) -> dict:
    """The request's fields plus the property service's values for what was not given
    (``property_data`` uses the seed's camelCase names)."""
    fields = dict(given)
    for name, value in (property_data or {}).items():
        attr = PROPERTY_FIELDS.get(name)
        if attr and is_blank(fields.get(attr)) and not is_blank(value):
            fields[attr] = value
    return fields


def reply_message(record_action: str, customer_action: str, enriched: bool) -> str:
    """带看记录录入成功，客户已创建，已自动填入外部房源信息 and its other combinations."""
    parts = ["带看记录录入成功" if record_action == CREATED else "带看记录更新成功",
             "客户已创建" if customer_action == CREATED else "客户已更新"]
    if enriched:
        parts.append("已自动填入外部房源信息")
    return "，".join(parts)


# --- time ---------------------------------------------------------------------------------------

def as_utc(moment: dt.datetime, timezone: str) -> dt.datetime:
    """A viewing time without an offset is read in the service's time zone (APP_TIMEZONE)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    return moment.astimezone(dt.timezone.utc)


def calendar_window(date_from: dt.date | None, date_to: dt.date | None,
                    timezone: str) -> tuple[dt.datetime | None, dt.datetime | None]:
    """``date_from``..``date_to`` (inclusive calendar dates in ``timezone``) as the UTC
    half-open window [start, end) of ``viewing_time``."""
    zone = ZoneInfo(timezone)
    start = end = None
    if date_from is not None:
        start = dt.datetime.combine(date_from, dt.time.min, zone).astimezone(dt.timezone.utc)
    if date_to is not None:
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, zone).astimezone(dt.timezone.utc)
    return start, end


def total_pages(total: int, page_size: int) -> int:
    return (total + page_size - 1) // page_size if total else 0
