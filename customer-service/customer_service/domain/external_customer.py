"""Rules of the external integrator's customer upsert (seed 002 客户数据录入): its enums,
the defaults a new customer gets, and the COALESCE rule of updates. Pure functions."""
from __future__ import annotations

import json
from typing import Mapping

from .lead_status import DEFAULT_LEAD_STATUS, LEAD_STATUSES

EXTERNAL_SOURCE = "external"  # customers.source, and the prefix of their customer_code

BUSINESS_TYPES = {"whole_rent": "整租", "shared_rent": "合租", "centralized": "集中"}
ROOM_TYPES = {
    "one_bedroom": "一室", "two_bedroom": "两室", "three_bedroom": "三室",
    "four_plus": "四室及以上", "master_room": "主卧", "second_room": "次卧",
}
SOURCE_CHANNELS = {
    "xianyu": "闲鱼", "xiaohongshu": "小红书", "beike": "贝壳", "58tongcheng": "58 同城",
    "shipinhao": "视频号", "douyin": "抖音", "referral": "推荐",
}
LEAD_STATUS_CODES = tuple(LEAD_STATUSES)

# Seed defaults, applied when a customer is created and never on update.
CREATE_DEFAULTS = {
    "lead_status": DEFAULT_LEAD_STATUS,
    "business_type": "whole_rent",
    "room_type": "one_bedroom",
    "source_channel": "referral",
    "creator": "外部系统",
}


def is_blank(value) -> bool:
    """``None``, ``""`` and whitespace-only strings carry no value (seed: COALESCE)."""
    return value is None or (isinstance(value, str) and not value.strip())


def non_blank(given: Mapping) -> dict:
    """The COALESCE rule of updates: only values that are there overwrite; null, "" and
    absent fields never erase what the customer already has."""
    return {key: value for key, value in given.items() if not is_blank(value)}


def fields_for_new_customer(given: Mapping) -> dict:
    """What a new customer is created with: the given values plus the seed's defaults."""
    fields = dict(CREATE_DEFAULTS)
    fields.update(non_blank(given))
    return fields


def normalise_room_tags(value) -> str:
    """房型标签: a JSON array (given as its string, or as an array) -> its canonical string.
    Raises ``ValueError`` for anything else."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise ValueError("房型标签应为 JSON 数组字符串，如 [\"loft\", \"two_bath\"]") from exc
    if not isinstance(value, list):
        raise ValueError("房型标签应为 JSON 数组字符串，如 [\"loft\", \"two_bath\"]")
    if len(value) > 50 or not all(isinstance(tag, str) and 0 < len(tag) <= 50 for tag in value):
        raise ValueError("房型标签应为最多 50 个、每个 1-50 个字符的字符串")
    return json.dumps(value, ensure_ascii=False)
