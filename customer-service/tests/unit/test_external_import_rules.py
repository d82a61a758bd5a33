"""Issue 21: the third party's rows mapped to our fields, the rules a record must meet and
the watermark (no database)."""
from __future__ import annotations

import datetime as dt

from customer_service.domain.external_import import (
    Watermark,
    company_fields,
    customer_fields,
    problems,
    record_from_row,
)

STAMP = dt.datetime(2026, 1, 1, 8, 0, 0, 123456)


def row(**overrides):
    base = {"customer.id": 7, "customer.customer_name": " 客户七 ", "customer.contact_person": "张七",
            "customer.mobile": "13800000007", "customer.email": "c7@example.com", "customer.address": "",
            "customer.tax_no": None, "customer.remark": None, "customer.updated_at": STAMP,
            "company.id": 3, "company.company_code": None, "company.company_name": "公司三",
            "company.license_no": None, "company.industry": "地产", "company.address": None,
            "company.contact_name": None, "company.contact_phone": None}
    base.update(overrides)
    return base


def test_a_row_maps_to_our_fields_trimmed_with_blanks_dropped_and_the_source_tagged():
    record = record_from_row(row())
    assert record.remote_id == "7" and record.watermark == Watermark(STAMP, 7)
    assert customer_fields(record, "RB") == {"source_ref_id": "7", "name": "客户七", "primary_contact_name": "张七",
                                             "primary_contact_phone": "13800000007", "email": "c7@example.com",
                                             "source": "RB"}
    assert company_fields(record, "RB") == {"source_ref_id": "3", "name": "公司三", "industry_type": "地产",
                                            "source": "RB"}
    assert problems(record) == {}


def test_a_customer_without_a_company_has_none():
    record = record_from_row(row(**{"company.id": None}))
    assert record.company is None and company_fields(record, "RB") is None


def test_records_breaking_the_rules_say_why():
    assert set(problems(record_from_row(row(**{"customer.customer_name": "  "})))) == {"name"}
    assert set(problems(record_from_row(row(**{"customer.mobile": "12-ab"})))) == {"primary_contact_phone"}
    assert set(problems(record_from_row(row(**{"customer.email": "nope"})))) == {"email"}
    assert set(problems(record_from_row(row(**{"company.company_name": None})))) == {"company.name"}
    assert set(problems(record_from_row(row(**{"customer.customer_name": "名" * 101})))) == {"name"}


def test_the_watermark_round_trips_and_orders_by_time_then_id():
    mark = Watermark(STAMP, 42)
    assert Watermark.parse(mark.to_text()) == mark and Watermark.parse(None) is None
    assert Watermark(STAMP, 1) < Watermark(STAMP, 2) < Watermark(STAMP + dt.timedelta(microseconds=1), 1)
