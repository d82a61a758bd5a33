"""Seed 004's rules, with no database: when a customer change is copied, what is written,
and how it is worded."""
import datetime as dt

import pytest

from sync_worker.domain import rules
from sync_worker.domain.model import Contract, CustomerInfo, Project, SyncResult

NOW = dt.datetime(2026, 1, 14, 8, 0, tzinfo=dt.timezone.utc)


def info(**kw):
    base = dict(customer_id=123, factory_id="F1", name="新客户名称", contact="新联系人", phone="13900000000",
                version=7)
    base.update(kw)
    return CustomerInfo(**base)


@pytest.mark.parametrize("changed, options, expected", [
    (["name"], {"auto_sync": True}, rules.SYNC),
    (["primary_contact_phone", "notes"], {}, rules.SYNC),           # auto_sync defaults to true
    (["primary_contact_name"], None, rules.SYNC),
    (["contact_person"], {}, rules.SYNC),                            # seed 004's name for the contact
    (["name"], {"auto_sync": False}, rules.SKIP_AUTO_SYNC_OFF),
    (["name"], {"auto_sync": "false"}, rules.SKIP_AUTO_SYNC_OFF),
    (["notes", "status"], {}, rules.IGNORE),                         # nothing that is copied changed
    ([], {}, rules.IGNORE),
])
def test_only_updates_of_name_contact_or_phone_with_auto_sync_on_trigger_a_sync(changed, options, expected):
    assert rules.sync_decision("customer.updated", changed, options) == expected


@pytest.mark.parametrize("event_type", ["customer.created", "customer.deleted"])
def test_created_and_deleted_customers_never_trigger_a_sync(event_type):
    assert rules.sync_decision(event_type, ["name"], {"auto_sync": True}) == rules.IGNORE


def test_project_copy_is_incremental_and_reports_only_the_fields_written():
    project = Project(id=1, customer_id=123, customer_name="旧名", customer_contact="新联系人",
                      customer_phone="13800000000", updated_at=None, customer_synced_at=None)
    written = project.copy_customer(info(), operator_id="u1", operator_name="张三", now=NOW)
    assert written == ["customer_name", "customer_phone"]
    assert (project.customer_name, project.customer_contact, project.customer_phone) == \
        ("新客户名称", "新联系人", "13900000000")
    assert project.updated_by == "u1" and project.customer_synced_at == NOW
    # Already equal: nothing written, audit untouched.
    later = NOW + dt.timedelta(hours=1)
    assert project.copy_customer(info(), operator_id="u2", operator_name="李四", now=later) == []
    assert project.updated_by == "u1" and project.updated_at == NOW


def test_contract_copy_uses_the_contract_field_names_of_seed_004():
    contract = Contract(id=9, customer_id=123, customer_name="新客户名称", contact_person="旧联系人",
                        contact_phone="13900000000")
    assert contract.copy_customer(info(), operator_id="u1", operator_name="张三", now=NOW) == ["contact_person"]
    assert contract.contact_person == "新联系人"


def test_a_row_of_another_customer_is_never_overwritten():
    project = Project(id=1, customer_id=999, customer_name="别人")
    with pytest.raises(ValueError):
        project.copy_customer(info(), operator_id="u1", operator_name="张三", now=NOW)
    assert project.customer_name == "别人"


def test_sync_from_contract_takes_the_contracts_customer_and_fields():
    project = Project(id=1, customer_id=5, customer_name="A", customer_contact="a", customer_phone="1")
    contract = Contract(id=2, customer_id=6, customer_name="B", contact_person="b", contact_phone="2")
    written = project.copy_customer_from_contract(contract, operator_id="u", operator_name="n", now=NOW)
    assert written == ["customer_id", "customer_name", "customer_contact", "customer_phone"]
    assert (project.customer_id, project.customer_name, project.customer_contact, project.customer_phone) == \
        (6, "B", "b", "2")


def test_customer_info_reads_customer_service_data_and_deletion():
    data = {"id": "123", "factory_id": "F1", "name": "甲", "primary_contact_name": "乙",
            "primary_contact_phone": "13800138000", "version": 4, "deleted_at": "2026-01-01T00:00:00Z",
            "business_domain": "D1", "notes": "ignored"}
    parsed = CustomerInfo.from_customer_data(data)
    assert parsed == CustomerInfo(123, "F1", "甲", "乙", "13800138000", 4, True, "D1")
    with pytest.raises(ValueError):
        CustomerInfo.from_customer_data({"name": "no id"})


def test_result_message_and_log_lines_are_worded_as_in_seed_004():
    result = SyncResult(123, [1, 2, 3], [7, 8], ["customer_name", "customer_contact", "customer_phone"],
                        ["customer_name", "contact_phone"])
    body = result.as_dict()
    assert body["message"] == "已同步 3 个项目的客户信息"
    assert body["updated_count"] == 3 and body["updated_projects"] == [1, 2, 3]
    assert body["updated_fields"] == ["customer_name", "customer_contact", "customer_phone", "contact_phone"]
    assert rules.auto_sync_log_line(123, 3, "项目", ["customer_phone", "customer_name", "customer_contact"]) == \
        "客户 123 信息已自动同步到 3 个项目: customer_name, customer_contact, customer_phone"
    assert rules.auto_sync_log_line(123, 2, "合同", ["contact_phone", "customer_name"]) == \
        "客户 123 信息已自动同步到 2 个合同: customer_name, contact_phone"
    assert rules.sync_failed_log_line("连接超时") == "客户信息自动同步失败: 连接超时"


def test_a_contract_for_a_project_must_share_its_customer():
    assert rules.contract_matches_project(5, 5)
    assert not rules.contract_matches_project(5, 6)


def test_a_project_or_contract_moved_to_another_customer_takes_its_business_domain():
    project = Project(id=1, customer_id=5, business_domain="D1", customer_name="A")
    assert project.belong_to(info(customer_id=6, business_domain="D2")) == ["customer_id"]
    assert (project.customer_id, project.business_domain) == (6, "D2")
    contract = Contract(id=2, customer_id=6, business_domain="D1")
    assert contract.belong_to(info(customer_id=6, business_domain="D2")) == []  # same customer: domain only
    assert contract.business_domain == "D2"
    synced = Project(id=3, customer_id=5, business_domain="D1")
    synced.copy_customer_from_contract(Contract(id=4, customer_id=7, business_domain="D3", customer_name="C",
                                                contact_person="c", contact_phone="3"),
                                       operator_id="u", operator_name="n", now=NOW)
    assert (synced.customer_id, synced.business_domain) == (7, "D3")
