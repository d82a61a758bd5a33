"""Issue 21 / seed 003 monitoring: the Grafana dashboard (deploy/grafana) and the alert on the
import's failure rate (customer-service's PrometheusRule) parse, and read only metrics that
customer-service's code exports."""
from __future__ import annotations

import json
import re

import yaml

from crm_testing import repo_root

ROOT = repo_root()
DASHBOARD = ROOT / "deploy" / "grafana" / "external-import.json"
RULES = ROOT / "deploy" / "k8s" / "customer-service" / "overlays" / "production" / "monitoring.yaml"
SUFFIXES = ("_bucket", "_sum", "_count")
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "bool", "offset", "le"}


def exported() -> set[str]:
    code = "\n".join(p.read_text() for p in (ROOT / "customer-service" / "customer_service").rglob("*.py"))
    return set(re.findall(r"(?:Counter|Gauge|Histogram|gauge)\(\s*\"([a-z_]+)\"", code))


def series(expr: str) -> set[str]:
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    names = {n for n in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)
             if n not in PROMQL_WORDS and not re.fullmatch(r"\d.*", n)}
    return {next((n[: -len(s)] for s in SUFFIXES if n.endswith(s)), n) for n in names}


def test_the_dashboard_is_valid_grafana_json_on_exported_metrics():
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 30
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels)
    names = exported()
    read = set()
    for panel in panels:
        assert panel["type"] in {"timeseries", "stat"} and panel["targets"], panel["title"]
        assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
        for target in panel["targets"]:
            expr = target["expr"]
            assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
            used = series(expr)
            assert used <= names, f"{panel['title']}: {sorted(used - names)} not exported by customer-service"
            read |= used
    assert {"crm_external_imports_total", "crm_external_sync_run_duration_seconds",
            "crm_external_sync_records_behind"} <= read, "imports by outcome, run duration, records behind"


def test_the_failure_rate_alert_parses_and_reads_the_imports_by_outcome():
    [rule] = [d for d in yaml.safe_load_all(RULES.read_text()) if d and d["kind"] == "PrometheusRule"]
    alerts = {r["alert"]: r for group in rule["spec"]["groups"] for r in group["rules"]}
    failure = alerts["CrmExternalImportFailureRateHigh"]
    assert series(failure["expr"]) == {"crm_external_imports_total"}
    assert 'outcome="failed"' in failure["expr"] and failure["expr"].rstrip().endswith("> 0.05")
    assert failure["labels"]["severity"] in {"warning", "page"} and failure["annotations"]["summary"]
    assert series(alerts["CrmExternalImportStalled"]["expr"]) <= exported()
