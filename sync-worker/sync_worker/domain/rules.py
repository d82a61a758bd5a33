"""Rules of customer synchronisation (seed 004), pure functions with unit tests."""
from __future__ import annotations

from typing import Iterable

# Seed 004 §4.2: customer field -> project field, contract field.
SYNC_MAPPING: tuple[tuple[str, str, str], ...] = (
    ("name", "customer_name", "customer_name"),
    ("primary_contact_name", "customer_contact", "contact_person"),
    ("primary_contact_phone", "customer_phone", "contact_phone"),
)
SYNCED_CUSTOMER_FIELDS = tuple(row[0] for row in SYNC_MAPPING)
PROJECT_FIELDS = tuple(row[1] for row in SYNC_MAPPING)
CONTRACT_FIELDS = tuple(row[2] for row in SYNC_MAPPING)
# Seed 004 §3.1 names the customer fields customer_name / contact_person / contact_phone.
CUSTOMER_FIELD_ALIASES = {"customer_name": "name", "contact_person": "primary_contact_name",
                          "contact_phone": "primary_contact_phone"}
FIELD_ORDER: dict[str, int] = {}
for _name in SYNCED_CUSTOMER_FIELDS + ("customer_id",) + PROJECT_FIELDS + CONTRACT_FIELDS:
    FIELD_ORDER.setdefault(_name, len(FIELD_ORDER))

# How a sync was started (history ``trigger``) and how it ended (``outcome``).
TRIGGER_EVENT, TRIGGER_MANUAL, TRIGGER_CONTRACT = "event", "manual", "contract"
TRIGGERS = (TRIGGER_EVENT, TRIGGER_MANUAL, TRIGGER_CONTRACT)
OUTCOME_SUCCESS, OUTCOME_SKIPPED, OUTCOME_FAILED = "success", "skipped", "failed"
OUTCOMES = (OUTCOME_SUCCESS, OUTCOME_SKIPPED, OUTCOME_FAILED)

# What a customer event means for projects and contracts.
SYNC = "sync"                  # copy the customer's fields into its projects and contracts
SKIP_AUTO_SYNC_OFF = "skip"    # synced fields changed, but the writer asked for auto_sync=false
IGNORE = "ignore"              # nothing that projects or contracts copy has changed


def ordered_fields(fields: Iterable[str]) -> list[str]:
    """Field names in the seed's order (customer_name, contact, phone), duplicates dropped."""
    return sorted(set(fields), key=lambda name: (FIELD_ORDER.get(name, len(FIELD_ORDER)), name))


def synced_fields_changed(changed_fields: Iterable[str] | None) -> list[str]:
    """The customer fields among ``changed_fields`` that projects and contracts copy."""
    names = {CUSTOMER_FIELD_ALIASES.get(str(f), str(f)) for f in (changed_fields or ())}
    return [f for f in SYNCED_CUSTOMER_FIELDS if f in names]


def auto_sync_enabled(options: dict | None) -> bool:
    """Seed 004 §2.2: auto_sync defaults to true; only an explicit false turns it off."""
    value = (options or {}).get("auto_sync", True)
    if isinstance(value, str):
        return value.strip().lower() not in ("false", "0", "no", "off")
    return value is not False and value != 0


def sync_decision(event_type: str, changed_fields: Iterable[str] | None, options: dict | None) -> str:
    """Seed 004 §2.2 trigger: a ``customer.updated`` that changed name, contact or phone,
    with auto_sync not turned off. Created and deleted customers only refresh the snapshot."""
    if event_type != "customer.updated" or not synced_fields_changed(changed_fields):
        return IGNORE
    return SYNC if auto_sync_enabled(options) else SKIP_AUTO_SYNC_OFF


def project_values_from_contract(customer_name, contact_person, contact_phone) -> dict:
    """Contract field -> project field (``sync-from-contract``)."""
    return {"customer_name": customer_name, "customer_contact": contact_person,
            "customer_phone": contact_phone}


def contract_matches_project(contract_customer_id: int, project_customer_id: int) -> bool:
    """A contract for a project must be a contract with that project's customer."""
    return int(contract_customer_id) == int(project_customer_id)


# --- wording (seed 004 §2.1 result message, §5 log lines) -------------------------------

def projects_synced_message(count: int) -> str:
    return f"已同步 {count} 个项目的客户信息"


def auto_sync_log_line(customer_id: int, count: int, target: str, fields: Iterable[str]) -> str:
    """``客户 123 信息已自动同步到 3 个项目: customer_name, customer_contact, customer_phone``."""
    return f"客户 {customer_id} 信息已自动同步到 {count} 个{target}: {', '.join(ordered_fields(fields))}"


def manual_sync_log_line(customer_id: int, count: int, target: str, fields: Iterable[str]) -> str:
    return f"客户 {customer_id} 信息已手动同步到 {count} 个{target}: {', '.join(ordered_fields(fields))}"


def sync_failed_log_line(error: object) -> str:
    """``客户信息自动同步失败: <错误信息>``."""
    return f"客户信息自动同步失败: {error}"
