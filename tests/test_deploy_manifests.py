"""The Kubernetes manifests (deploy/k8s), checked without a cluster: every service's overlays,
the platform and the whole set are rendered with `kubectl kustomize` (kubectl v1.32 / kustomize
v5.5; a missing kubectl FAILS these tests, it never skips them), and every rendered object is
validated strictly: core objects against the Kubernetes schemas (kubernetes-validate, offline),
the operators' custom resources against the shapes below. Then what the deployment promises:
each service deployable alone with only its own image, Secret and config; workers' liveness
from their heartbeat; NetworkPolicies that deny by default; alerts on the metrics the code
exports; a PostgreSQL connection budget that fits, and is the one deploy/README.md states; no pod
holding a key that could sign a token; webhook-service's delivery worker alone reaching the
internet, on 443 and never a private address."""
from __future__ import annotations

import functools
import ipaddress
import re
import shutil
import subprocess

import jsonschema
import kubernetes_validate
import pytest
import yaml

from crm_common.release import project_version
from crm_testing import repo_root

ROOT = repo_root()
K8S = ROOT / "deploy" / "k8s"
SERVICES = ("gateway", "customer-service", "viewing-service", "analytics-service", "sync-worker",
            "webhook-service", "token-issuer")
OVERLAYS = ("dev", "production")
DB_VARIABLE = {"customer-service": "CUSTOMER_DATABASE_URL", "viewing-service": "VIEWING_DATABASE_URL",
               "analytics-service": "ANALYTICS_DATABASE_URL", "sync-worker": "SYNC_DATABASE_URL",
               "webhook-service": "WEBHOOK_DATABASE_URL", "token-issuer": "ISSUER_DATABASE_URL"}
URL_VARIABLE = {"customer-service": "CUSTOMER_SERVICE_URL", "viewing-service": "VIEWING_SERVICE_URL",
                "analytics-service": "ANALYTICS_SERVICE_URL", "sync-worker": "SYNC_SERVICE_URL",
                "webhook-service": "WEBHOOK_SERVICE_URL", "token-issuer": "ISSUER_SERVICE_URL"}
SHORT = {"gateway": "gateway", "customer-service": "customer", "viewing-service": "viewing",
         "analytics-service": "analytics", "sync-worker": "sync", "webhook-service": "webhook",
         "token-issuer": "issuer"}
HTTP_PORTS = {"gateway": 8080, "customer-service": 8001, "viewing-service": 8002, "analytics-service": 8003,
              "sync-worker": 8004, "webhook-service": 8005, "token-issuer": 8006}
PACKAGE = {"gateway": "gateway/src/gateway", **{s: f"{s}/{s.replace('-', '_')}" for s in SERVICES if s != "gateway"}}
# Every process of CONTRACT §1, as (service, command).
PROCESSES = {(name, "serve") for name in SERVICES} | {
    ("customer-service", "relay"), ("viewing-service", "relay"), ("analytics-service", "relay"),
    ("customer-service", "consume"), ("analytics-service", "consume"), ("sync-worker", "consume"),
    ("viewing-service", "consume"), ("webhook-service", "consume"), ("webhook-service", "deliver"),
    ("customer-service", "sync-external")}
WORKER_COMMANDS = ("relay", "consume", "deliver", "sync-external")  # loops with a heartbeat, no HTTP port
METRICS_PORT = 9100
CONTRACT_VARIABLES = {"AMQP_URL", "EXTERNAL_MYSQL_URL", "REDIS_URL", "PROPERTY_LOOKUP_URL", "ISSUER_KEY_ENCRYPTION_KEY",
                      *DB_VARIABLE.values(), *URL_VARIABLE.values()}
ISSUER_URL = "http://token-issuer:8006"
NAME, COMPONENT = "app.kubernetes.io/name", "app.kubernetes.io/component"


# --- rendering ------------------------------------------------------------------------------------

def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("kubectl is not installed: these tests render deploy/k8s with `kubectl kustomize` "
                    "(kubectl v1.32+, kustomize v5). Install kubectl; the deployment tests never skip.")
    return found


@functools.cache
def render(directory: str) -> tuple[dict, ...]:
    done = subprocess.run([kubectl(), "kustomize", str(K8S / directory)], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"kubectl kustomize {directory}:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def overlay(service: str, env: str) -> tuple[dict, ...]:
    return render(f"{service}/overlays/{env}")


def of_kind(docs, kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def pod_spec(doc: dict) -> dict:
    return doc["spec"]["template"]["spec"]


def containers(doc: dict, init: bool = True) -> list[dict]:
    spec = pod_spec(doc)
    return (spec.get("initContainers", []) if init else []) + spec["containers"]


def main_container(deployment: dict) -> dict:
    [container] = pod_spec(deployment)["containers"]
    return container


def command_of(container: dict) -> tuple[str, str]:
    return container["args"][0], container["args"][1]


def package_version(service: str) -> str:
    return project_version(ROOT / service)  # its __version__, the one place


def config_of(docs) -> dict[str, str]:
    [config] = of_kind(docs, "ConfigMap")
    return config["data"]


def test_kubectl_with_kustomize_is_installed():
    version = subprocess.run([kubectl(), "version", "--client"], capture_output=True, text=True, timeout=60).stdout
    kustomize = re.search(r"Kustomize Version: v(\d+)\.", version)
    assert kustomize and int(kustomize.group(1)) >= 5, version


def test_every_service_has_a_base_and_dev_and_production_overlays_and_the_set_lists_them():
    for service in SERVICES:
        for part in ("base", *(f"overlays/{env}" for env in OVERLAYS)):
            assert (K8S / service / part / "kustomization.yaml").is_file(), f"{service}/{part}"
    for env in OVERLAYS:
        listed = yaml.safe_load((K8S / "all" / env / "kustomization.yaml").read_text())["resources"]
        assert listed == [f"../../platform/overlays/{env}", *(f"../../{s}/overlays/{env}" for s in SERVICES)]
    assert not list(K8S.glob("*.yaml")), "no manifest outside a kustomization directory"


# --- strict validation --------------------------------------------------------------------------------
# The operators' full CRDs are not vendored. These shapes hold the fields this repository uses, as
# the operators' API references define them (CloudNativePG 1.25 postgresql.cnpg.io/v1, RabbitMQ
# cluster operator 2.x and messaging topology operator 1.x rabbitmq.com/v1beta1, Prometheus
# operator monitoring.coreos.com/v1): a misspelt or unknown field, a wrong type or a missing
# required field is refused; values an operator checks at admission (e.g. PromQL, pg_hba syntax)
# are not. That is what can be validated offline; the rest is checked by each operator's webhook.

def _obj(properties: dict, required=(), extra=False) -> dict:
    return {"type": "object", "properties": properties, "required": list(required), "additionalProperties": extra}


_STR, _INT, _BOOL = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
_QUANTITY = {"type": ["string", "integer"]}
_RESOURCES = _obj({"requests": {"type": "object", "additionalProperties": _QUANTITY},
                   "limits": {"type": "object", "additionalProperties": _QUANTITY}})
_META = _obj({"name": _STR, "namespace": _STR, "labels": {"type": "object", "additionalProperties": _STR},
              "annotations": {"type": "object", "additionalProperties": _STR}}, ["name"])
_REF = _obj({"name": _STR}, ["name"])
_SELECTOR = _obj({"matchLabels": {"type": "object", "additionalProperties": _STR}}, ["matchLabels"])


def _resource(api_version: str, kind: str, spec: dict, extra_top=None) -> dict:
    return _obj({"apiVersion": {"const": api_version}, "kind": {"const": kind}, "metadata": _META, "spec": spec,
                 **(extra_top or {})}, ["apiVersion", "kind", "metadata", "spec"])


CUSTOM_RESOURCES = {
    "Cluster": _resource("postgresql.cnpg.io/v1", "Cluster", _obj({
        "instances": {"type": "integer", "minimum": 1}, "imageName": _STR,
        "primaryUpdateStrategy": {"enum": ["unsupervised", "supervised"]}, "enableSuperuserAccess": _BOOL,
        "postgresql": _obj({"parameters": {"type": "object", "additionalProperties": _STR},
                            "pg_hba": {"type": "array", "items": _STR}}),
        "managed": _obj({"roles": {"type": "array", "items": _obj({
            "name": _STR, "ensure": {"enum": ["present", "absent"]}, "login": _BOOL,
            "connectionLimit": _INT, "passwordSecret": _REF}, ["name"])}}),
        "storage": _obj({"size": _STR, "storageClass": _STR}, ["size"]),
        "resources": _RESOURCES,
        "affinity": _obj({"enablePodAntiAffinity": _BOOL, "topologyKey": _STR,
                          "podAntiAffinityType": {"enum": ["preferred", "required"]}}),
    }, ["instances", "storage"])),
    "Database": _resource("postgresql.cnpg.io/v1", "Database", _obj({
        "cluster": _REF, "name": _STR, "owner": _STR, "ensure": {"enum": ["present", "absent"]}},
        ["cluster", "name", "owner"])),
    "RabbitmqCluster": _resource("rabbitmq.com/v1beta1", "RabbitmqCluster", _obj({
        "replicas": {"type": "integer", "minimum": 1}, "image": _STR,
        "rabbitmq": _obj({"additionalPlugins": {"type": "array", "items": _STR}, "additionalConfig": _STR}),
        "persistence": _obj({"storage": _STR, "storageClassName": _STR}), "resources": _RESOURCES})),
    "User": _resource("rabbitmq.com/v1beta1", "User", _obj({
        "rabbitmqClusterReference": _REF, "importCredentialsSecret": _REF,
        "tags": {"type": "array", "items": {"enum": ["management", "policymaker", "monitoring", "administrator"]}}},
        ["rabbitmqClusterReference"])),
    "Permission": _resource("rabbitmq.com/v1beta1", "Permission", _obj({
        "rabbitmqClusterReference": _REF, "vhost": _STR, "user": _STR, "userReference": _REF,
        "permissions": _obj({"configure": _STR, "write": _STR, "read": _STR})},
        ["rabbitmqClusterReference", "vhost", "permissions"])),
    "PodMonitor": _resource("monitoring.coreos.com/v1", "PodMonitor", _obj({
        "selector": _SELECTOR, "podMetricsEndpoints": {"type": "array", "minItems": 1, "items": _obj({
            "port": _STR, "path": _STR, "interval": {"type": "string", "pattern": r"^\d+[smh]$"}}, ["port"])}},
        ["selector", "podMetricsEndpoints"])),
    "PrometheusRule": _resource("monitoring.coreos.com/v1", "PrometheusRule", _obj({
        "groups": {"type": "array", "minItems": 1, "items": _obj({
            "name": _STR, "rules": {"type": "array", "minItems": 1, "items": _obj({
                "alert": {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}, "expr": _STR,
                "for": {"type": "string", "pattern": r"^\d+[smh]$"},
                "labels": _obj({"severity": {"enum": ["page", "warning"]}}, ["severity"]),
                "annotations": _obj({"summary": _STR, "description": _STR}, ["summary"])},
                ["alert", "expr", "labels", "annotations"])}}, ["name", "rules"])}}, ["groups"])),
}


def validate(doc: dict) -> None:
    if doc["kind"] in CUSTOM_RESOURCES:
        jsonschema.validate(doc, CUSTOM_RESOURCES[doc["kind"]])
    else:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def rendered_directories() -> list[str]:
    return ([f"{s}/overlays/{e}" for s in SERVICES for e in OVERLAYS]
            + [f"platform/overlays/{e}" for e in OVERLAYS] + [f"all/{e}" for e in OVERLAYS])


@pytest.mark.parametrize("directory", rendered_directories())
def test_every_rendered_object_validates_strictly(directory):
    docs = render(directory)
    assert docs, directory
    for doc in docs:
        try:
            validate(doc)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError,
                kubernetes_validate.SchemaNotFoundError) as exc:
            pytest.fail(f"{directory}: {doc['kind']}/{doc['metadata']['name']}: {exc}")


def test_validation_catches_broken_objects():
    """The validators really check: a wrong type, an unknown field, a misspelt CR field are refused."""
    deployment = of_kind(overlay("sync-worker", "production"), "Deployment")[0]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken)
    cluster = yaml.safe_load(yaml.safe_dump(of_kind(render("platform/overlays/production"), "Cluster")[0]))
    cluster["spec"]["managed"]["roles"][0]["connectionlimit"] = 5
    with pytest.raises(jsonschema.ValidationError):
        validate(cluster)
    rule = yaml.safe_load(yaml.safe_dump(of_kind(overlay("gateway", "production"), "PrometheusRule")[0]))
    rule["spec"]["groups"][0]["rules"][0]["for"] = 600
    with pytest.raises(jsonschema.ValidationError):
        validate(rule)


# --- each service alone --------------------------------------------------------------------------------

@pytest.mark.parametrize("env", OVERLAYS)
@pytest.mark.parametrize("service", SERVICES)
def test_an_overlay_carries_only_its_own_image_secret_config_and_identity(service, env):
    docs = overlay(service, env)
    namespace = {"dev": "crm-dev", "production": "crm"}[env]
    assert [d["metadata"]["name"] for d in of_kind(docs, "Secret")] == [service]
    assert [d["metadata"]["name"] for d in of_kind(docs, "ServiceAccount")] == [service]
    [config] = of_kind(docs, "ConfigMap")
    assert re.fullmatch(rf"{service}-config-[a-z0-9]{{10}}", config["metadata"]["name"]), \
        "a generated ConfigMap: a change rolls the pods"
    for doc in docs:
        assert doc["metadata"].get("namespace") == namespace, f"{doc['kind']}/{doc['metadata']['name']}"
        if doc["kind"] not in ("Secret", "ConfigMap", "ServiceAccount", "Ingress"):
            assert doc["metadata"]["labels"][NAME] == service, f"{doc['kind']}/{doc['metadata']['name']}"
    for deployment in of_kind(docs, "Deployment"):
        spec = pod_spec(deployment)
        assert spec["serviceAccountName"] == service and spec["automountServiceAccountToken"] is False
        for container in containers(deployment):
            assert container["image"] == f"crm/{service}:{package_version(service)}", \
                f"{deployment['metadata']['name']}/{container['name']}: its own image, tagged by version"
            assert container["imagePullPolicy"] == "Always"
            assert command_of(container)[0] == service


def test_no_container_uses_another_services_secret_or_config():
    for deployment in of_kind(render("all/production"), "Deployment"):
        service = deployment["metadata"]["labels"][NAME]
        for container in containers(deployment):
            refs = [(s.get("secretRef") or s.get("configMapRef"))["name"] for s in container.get("envFrom", [])]
            refs += [e["valueFrom"][key]["name"] for e in container.get("env", []) if "valueFrom" in e
                     for key in ("secretKeyRef", "configMapKeyRef") if key in e["valueFrom"]]
            for ref in refs:
                assert ref == service or ref.startswith(f"{service}-config-"), \
                    f"{deployment['metadata']['name']}/{container['name']} reads {ref}"


def test_secrets_and_configs_hold_contract_names_and_only_placeholders():
    for service in SERVICES:
        for env in OVERLAYS:
            docs = overlay(service, env)
            [secret] = of_kind(docs, "Secret")
            for key, value in secret["stringData"].items():
                assert key in CONTRACT_VARIABLES, f"{service}: {key}"
                assert "REPLACE_ME" in value or (env == "dev" and key == "REDIS_URL"), f"{service}/{env}: {key}"
                if key.endswith("_DATABASE_URL"):
                    assert key == DB_VARIABLE[service], f"{service}: only its own database"
                if key == "AMQP_URL":
                    assert value.startswith(f"amqp://{service}:"), f"{service}: its own broker user"
            for key in config_of(docs):
                assert not any(w in key for w in ("SECRET", "PASSWORD", "DATABASE_URL", "AMQP_URL", "REDIS_URL")), key
                if key.endswith("_URL"):
                    assert key in CONTRACT_VARIABLES, key
    for doc in render("platform/overlays/production"):
        if doc["kind"] == "Secret":
            assert doc["stringData"]["password"] == "REPLACE_ME", doc["metadata"]["name"]


@pytest.mark.parametrize("env", OVERLAYS)
def test_no_pod_holds_a_key_that_could_sign_a_token_and_every_one_verifies_against_the_issuer(env):
    """Issue 17: HS256 is refused in production (no ALLOW_HS256), so no Secret carries JWT_SECRET
    (one leaked pod could otherwise mint an admin token); every process finds the token issuer's
    JWKS and revocation list at its Service."""
    for service in SERVICES:
        docs = overlay(service, env)
        config = config_of(docs)
        assert config["CRM_ENV"] == "production" and "ALLOW_HS256" not in config, service
        assert config["ISSUER_SERVICE_URL"] == ISSUER_URL, service
        assert not {"JWKS_URL", "REVOCATIONS_URL"} & set(config), f"{service}: derived from ISSUER_SERVICE_URL"
        [secret] = of_kind(docs, "Secret")
        assert not {"JWT_SECRET", "ALLOW_HS256"} & set(secret["stringData"]), service
        for deployment in of_kind(docs, "Deployment"):
            for container in containers(deployment):
                assert not {"JWT_SECRET", "ALLOW_HS256"} & {e["name"] for e in container.get("env", [])}


# --- processes, probes, metrics --------------------------------------------------------------------------

def test_every_process_of_the_set_runs_from_its_owners_image():
    found = set()
    for deployment in of_kind(render("all/production"), "Deployment"):
        if deployment["metadata"]["labels"].get("app.kubernetes.io/part-of") != "crm" \
                or NAME not in deployment["metadata"]["labels"]:
            continue
        container = main_container(deployment)
        found.add(command_of(container))
        assert "command" not in container, "args keep the image's ENTRYPOINT"
        assert (ROOT / "deploy/docker" / f"{command_of(container)[0]}.Dockerfile").is_file()
    assert found == PROCESSES


def test_every_deployment_is_locked_down_with_resources_and_a_writable_tmp():
    for deployment in of_kind(render("all/production"), "Deployment"):
        name = deployment["metadata"]["name"]
        pod = pod_spec(deployment)
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in containers(deployment):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"]), name


@pytest.mark.parametrize("service", SERVICES)
def test_http_api_has_probes_a_service_an_autoscaler_a_budget_and_migrations_first(service):
    docs = overlay(service, "production")
    deployment = next(d for d in of_kind(docs, "Deployment") if d["metadata"]["name"] == service)
    container = main_container(deployment)
    assert command_of(container) == (service, "serve")
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"name": "http", "containerPort": HTTP_PORTS[service], "protocol": "TCP"} in container["ports"]
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    [svc] = of_kind(docs, "Service")
    assert all(labels.get(k) == v for k, v in svc["spec"]["selector"].items())
    assert [(p["name"], p["port"]) for p in svc["spec"]["ports"]] == [("http", HTTP_PORTS[service])], \
        "the Service exposes the API only, never the metrics port"
    [hpa] = of_kind(docs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == service and hpa["spec"]["minReplicas"] >= 2
    assert any(p["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
               for p in of_kind(docs, "PodDisruptionBudget"))
    if service in DB_VARIABLE:
        assert [command_of(c) for c in pod_spec(deployment)["initContainers"]] == [(service, "migrate")]


def test_every_process_serves_metrics_on_its_own_named_port():
    for service in SERVICES:
        docs = overlay(service, "production")
        assert config_of(docs)["METRICS_PORT"] == str(METRICS_PORT)
        for deployment in of_kind(docs, "Deployment"):
            ports = {p["name"]: p["containerPort"] for p in main_container(deployment)["ports"]}
            assert ports["metrics"] == METRICS_PORT, deployment["metadata"]["name"]
            assert list(ports.values()).count(METRICS_PORT) == 1


def heartbeat_probe(probe: dict, heartbeat: str) -> float:
    command = probe["exec"]["command"]
    assert command[:2] == ["python", "/usr/local/bin/crm-healthcheck"], command
    assert command[command.index("--heartbeat") + 1] == heartbeat, command
    return float(command[command.index("--max-age") + 1])


def test_workers_liveness_is_their_loops_heartbeat():
    workers = 0
    for deployment in of_kind(render("all/production"), "Deployment"):
        if NAME not in deployment["metadata"]["labels"]:
            continue
        container = main_container(deployment)
        if command_of(container)[1] not in WORKER_COMMANDS:
            assert "HEARTBEAT_FILE" not in {e["name"] for e in container.get("env", [])}
            continue
        workers += 1
        env = {e["name"]: e.get("value") for e in container["env"]}
        heartbeat = env["HEARTBEAT_FILE"]
        assert heartbeat.startswith("/tmp/"), "on the writable emptyDir"
        max_age = heartbeat_probe(container["livenessProbe"], heartbeat)
        assert max_age <= 120
        heartbeat_probe(container["startupProbe"], heartbeat)  # no liveness kill before the first turn
        startup = container["startupProbe"]
        assert startup["periodSeconds"] * startup["failureThreshold"] >= 60
        if command_of(container)[1] == "consume":
            assert container["readinessProbe"]["exec"]["command"] == ["python", "/usr/local/bin/crm-healthcheck"]
            assert env["HEALTHCHECK_URL"] == f"http://127.0.0.1:{METRICS_PORT}/metrics"
            assert env["HEALTHCHECK_EXPECT"] == "dead_letter_queue_depth"
    assert workers == len([p for p in PROCESSES if p[1] in WORKER_COMMANDS])


def test_relays_and_consumers_migrate_first_and_consumers_declare_their_own_queue():
    for deployment in of_kind(render("all/production"), "Deployment"):
        if NAME not in deployment["metadata"]["labels"]:
            continue
        service, command = command_of(main_container(deployment))
        init = [c["args"] for c in pod_spec(deployment).get("initContainers", [])]
        if command == "relay":
            assert init == [[service, "migrate"]], "a relay waits for no other service"
            text = (K8S / service / "base" / "relay.yaml").read_text()
            assert "advisory" in text and "stand" in text, "say why several relay replicas are safe"
        if command == "consume":
            assert init == [[service, "migrate"], [service, "consume", "--declare-only"]]
        if command == "deliver":
            assert init == [[service, "migrate"]], "the delivery worker uses no broker"


# --- production: network, alerts, ingress, the data stores ------------------------------------------------

def callers_from_configuration() -> dict[str, set[str]]:
    """Who calls whom, read from each service's ConfigMap (the *_SERVICE_URL it is given)."""
    callers: dict[str, set[str]] = {s: set() for s in SERVICES}
    for service in SERVICES:
        for callee, variable in URL_VARIABLE.items():
            if variable in config_of(overlay(service, "production")):
                callers[callee].add(service)
    return callers


def policies_for(docs, pod_labels: dict) -> list[dict]:
    return [p for p in of_kind(docs, "NetworkPolicy")
            if all(pod_labels.get(k) == v for k, v in p["spec"]["podSelector"].get("matchLabels", {}).items())]


def peer_names(peer: dict) -> set[str]:
    selector = peer.get("podSelector", {})
    names = set(selector.get("matchLabels", {}).get(NAME, "").split()) - {""}
    for expression in selector.get("matchExpressions", []):
        assert expression["key"] == NAME and expression["operator"] == "In"
        names |= set(expression["values"])
    return names


@pytest.mark.parametrize("service", SERVICES)
def test_network_policies_deny_by_default_and_admit_only_callers_and_monitoring(service):
    docs = overlay(service, "production")
    callers = callers_from_configuration()[service]
    deny = [p for p in of_kind(docs, "NetworkPolicy")
            if p["spec"]["podSelector"] == {"matchLabels": {NAME: service}} and "ingress" not in p["spec"]
            and "egress" not in p["spec"]]
    assert deny and set(deny[0]["spec"]["policyTypes"]) == {"Ingress", "Egress"}, "deny by default"
    for deployment in of_kind(docs, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        rules = [(r, p) for p in policies_for(docs, labels) for r in p["spec"].get("ingress", [])]
        admitted_ports = set()
        for rule, policy in rules:
            assert rule.get("from"), f"{policy['metadata']['name']}: an ingress rule open to everyone"
            ports = {p["port"] for p in rule["ports"]}
            admitted_ports |= ports
            if ports == {"metrics"}:
                assert rule["from"] == [{"namespaceSelector": {"matchLabels": {
                    "kubernetes.io/metadata.name": "monitoring"}}}], "metrics only from the monitoring namespace"
            else:
                assert ports == {"http"} and labels[COMPONENT] == "http", policy["metadata"]["name"]
                if service == "gateway":
                    assert rule["from"][0]["namespaceSelector"]["matchLabels"] == {
                        "kubernetes.io/metadata.name": "ingress-nginx"}, "the gateway only from the Ingress controller"
                else:
                    admitted = set().union(*(peer_names(peer) for peer in rule["from"]))
                    assert all("namespaceSelector" not in peer for peer in rule["from"])
                    assert admitted == {"gateway"} | callers, \
                        f"{service} admits {sorted(admitted)}, its configuration says {sorted({'gateway'} | callers)}"
        assert "metrics" in admitted_ports, deployment["metadata"]["name"]
        assert ("http" in admitted_ports) == (labels[COMPONENT] == "http")
        # Out: DNS, the data stores in crm-data, the managed Redis, and exactly the APIs it calls.
        egress = [r for p in policies_for(docs, labels) for r in p["spec"].get("egress", [])]
        called = set()
        for rule in egress:
            assert rule.get("to"), "an egress rule open to everywhere"
            for peer in rule["to"]:
                namespace = peer.get("namespaceSelector", {}).get("matchLabels", {}).get("kubernetes.io/metadata.name")
                if namespace is None and "podSelector" in peer:
                    called |= peer_names(peer)
                else:
                    assert namespace in ("kube-system", "crm-data") or "ipBlock" in peer, peer
        assert called == {s for s, c in callers_from_configuration().items() if service in c}


# Addresses a webhook receiver might name: public ones, and what must stay unreachable (private,
# shared, loopback, link-local and the metadata endpoints, multicast, and IPv6 forms embedding them).
PUBLIC_ADDRESSES = ("93.184.215.14", "8.8.8.8", "2606:4700:4700::1111")
NON_PUBLIC_ADDRESSES = ("10.1.2.3", "172.20.0.5", "192.168.1.1", "127.0.0.1", "169.254.169.254",
                        "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "192.0.2.10", "::1",
                        "fd00:ec2::254", "fe80::1", "ff02::1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
                        "2002:a00:1::1", "2001:0:4136:e378:8000:63bf:f5ff:fffe")


def admits(peer: dict, address: str) -> bool:
    """Whether an egress peer's ipBlock lets ``address`` through."""
    block = peer.get("ipBlock")
    if block is None:
        return False
    ip = ipaddress.ip_address(address)
    network = ipaddress.ip_network(block["cidr"])
    if ip.version != network.version or ip not in network:
        return False
    return not any(ip in ipaddress.ip_network(e) for e in block.get("except", [])
                   if ipaddress.ip_network(e).version == ip.version)


def test_only_the_webhook_deliverer_reaches_the_internet_on_443_and_never_a_private_address():
    """CONTRACT §6's address rules, a second time in the network: the delivery worker's egress
    admits exactly the addresses its own code calls public, on 443 only; no other pod of the
    set reaches a public address."""
    from webhook_service.domain.targets import is_public_address

    assert all(is_public_address(a) for a in PUBLIC_ADDRESSES)
    assert not any(is_public_address(a) for a in NON_PUBLIC_ADDRESSES)
    docs = render("all/production")
    deliverers = 0
    for deployment in of_kind(docs, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        namespace = deployment["metadata"]["namespace"]
        rules = [r for p in policies_for(docs, labels) if p["metadata"]["namespace"] == namespace
                 for r in p["spec"].get("egress", [])]
        reached = {(address, port["port"]) for rule in rules for peer in rule["to"]
                   for address in PUBLIC_ADDRESSES + NON_PUBLIC_ADDRESSES if admits(peer, address)
                   for port in rule["ports"]}
        if labels.get(NAME) == "webhook-service" and labels.get(COMPONENT) == "deliverer":
            deliverers += 1
            assert reached == {(address, 443) for address in PUBLIC_ADDRESSES}, sorted(reached)
            assert all(p["protocol"] == "TCP" for rule in rules for p in rule["ports"] if p["port"] == 443)
        else:
            assert not {a for a, _ in reached} & set(PUBLIC_ADDRESSES), \
                f"{deployment['metadata']['name']} reaches the internet: {sorted(reached)}"
    assert deliverers == 1


def test_the_platform_denies_by_default_in_both_namespaces_and_admits_the_services_to_the_data_stores():
    docs = render("platform/overlays/production")
    namespaces = {d["metadata"]["name"]: d for d in of_kind(docs, "Namespace")}
    assert namespaces["crm"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for namespace in ("crm", "crm-data"):
        assert any(p["metadata"]["namespace"] == namespace and p["spec"]["podSelector"] == {}
                   and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"} and "ingress" not in p["spec"]
                   for p in of_kind(docs, "NetworkPolicy")), f"no default deny in {namespace}"
    stores = {"crm-postgres": ({"cnpg.io/cluster": "crm-postgres"}, 5432),
              "crm-rabbitmq": ({NAME: "crm-rabbitmq"}, 5672)}
    for name, (labels, port) in stores.items():
        [policy] = [p for p in of_kind(docs, "NetworkPolicy") if p["metadata"]["name"] == name]
        assert policy["spec"]["podSelector"]["matchLabels"] == labels
        from_crm = [r for r in policy["spec"]["ingress"] if r["from"] == [{"namespaceSelector": {"matchLabels": {
            "kubernetes.io/metadata.name": "crm"}}}]]
        assert [[p["port"] for p in r["ports"]] for r in from_crm] == [[port]], f"{name}: the services, on {port}"
        for rule in policy["spec"]["ingress"]:
            assert rule.get("from"), f"{name}: an ingress rule open to everyone"


def package_sources(service: str) -> list:
    """The service's own code (tests excluded) and the shared library's."""
    own = [p for p in (ROOT / PACKAGE[service]).rglob("*.py") if "tests" not in p.parts]
    return own + sorted((ROOT / "libs/crm_common/crm_common").glob("*.py"))


def exported_metrics(service: str) -> set[str]:
    """Metric names the service's code and the shared library define (Counter/Gauge/Histogram/gauge(...))."""
    names = set()
    for path in package_sources(service):
        names |= set(re.findall(r"(?:Counter|Gauge|Histogram|gauge)\(\s*\"([a-z_]+)\"", path.read_text()))
    return names


PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                "offset"}


def metric_names(expr: str) -> set[str]:
    """The series an expression reads: identifiers that are neither functions, keywords, label
    matchers, ranges nor grouping labels."""
    bare = re.sub(r"\{[^}]*\}", "", expr)
    bare = re.sub(r"\[[^\]]*\]", "", bare)
    bare = re.sub(r"\b(?:by|without|on|ignoring)\s*\([^)]*\)", "", bare)
    return {name for name in re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", bare)
            if name not in PROMQL_WORDS}


def test_metric_names_are_read_from_an_expression():
    assert metric_names('sum(rate(http_requests_total{service="x",status=~"5.."}[5m])) by (queue)'
                        ' / sum(increase(other_total[1h])) > 0.05 and max(gauge_seconds) > 1') \
        == {"http_requests_total", "other_total", "gauge_seconds"}


@pytest.mark.parametrize("service", SERVICES)
def test_alerts_cover_the_services_processes_on_metrics_the_code_exports(service):
    docs = overlay(service, "production")
    [rule] = of_kind(docs, "PrometheusRule")
    [podmonitor] = of_kind(docs, "PodMonitor")
    assert podmonitor["spec"]["selector"]["matchLabels"] == {NAME: service}
    assert podmonitor["spec"]["podMetricsEndpoints"][0]["port"] == "metrics"
    alerts = {r["alert"]: r for g in rule["spec"]["groups"] for r in g["rules"]}
    commands = {command_of(main_container(d))[1] for d in of_kind(docs, "Deployment")}
    wanted = {"CrmHttp5xxRateHigh": "http_requests_total"}
    if "relay" in commands:
        wanted |= {"CrmOutboxOldestUnsentTooOld": "outbox_oldest_unsent_age_seconds",
                   "CrmOutboxBacklogHigh": "outbox_backlog"}
    if "consume" in commands:
        wanted |= {"CrmDeadLetterQueueNotEmpty": "dead_letter_queue_depth",
                   "CrmEventApplyLagHigh": "event_apply_lag_seconds"}
    if "deliver" in commands:  # deliveries that stop leaving, receivers that keep failing
        wanted |= {"CrmWebhookOldestPendingTooOld": "webhook_oldest_pending_age_seconds",
                   "CrmWebhookSubscriptionDeactivated": "webhook_subscriptions_deactivated_total"}
    if "sync-external" in commands:  # issue 21: the import from the third party's MySQL
        wanted |= {"CrmExternalImportFailureRateHigh": "crm_external_imports_total",
                   "CrmExternalImportStalled": "crm_external_sync_records_behind"}
    if service == "token-issuer":  # someone guessing client secrets
        wanted |= {"CrmTokenEndpointRateLimitedSpike": "http_requests_total"}
    assert set(alerts) == set(wanted)
    exported = exported_metrics(service)
    code = "\n".join(path.read_text() for path in package_sources(service))
    for alert, metric in wanted.items():
        expr = alerts[alert]["expr"]
        read = metric_names(expr)
        assert metric in read, f"{alert}: {expr}"
        assert read <= exported, f"{alert}: {sorted(read - exported)} not metrics the code exports"
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}"), expr
        for label, value in re.findall(r'(service|queue|route)="([^"]+)"', expr):
            if label == "service":
                assert value == SHORT[service], f"{alert}: the service label is {SHORT[service]!r}"
            elif label == "queue":
                assert value.startswith(f"{service}."), f"{alert}: its own queue"
            else:
                assert f'route("{value}"' in code, f"{alert}: {service} declares no route {value}"
    assert re.search(r'status=~"5\.\."', alerts["CrmHttp5xxRateHigh"]["expr"])
    if service == "token-issuer":
        assert 'status="429"' in alerts["CrmTokenEndpointRateLimitedSpike"]["expr"]


def test_the_gateway_alone_is_reachable_from_outside_through_an_ingress():
    ingresses = [d for s in SERVICES for d in of_kind(overlay(s, "production"), "Ingress")]
    assert len(ingresses) == 1
    [ingress] = ingresses
    assert ingress["spec"]["tls"], "TLS at the edge"
    backends = [p["backend"]["service"] for r in ingress["spec"]["rules"] for p in r["http"]["paths"]]
    assert backends == [{"name": "gateway", "port": {"name": "http"}}]
    for service in SERVICES:
        for svc in of_kind(overlay(service, "production"), "Service"):
            assert svc["spec"]["type"] == "ClusterIP", "nothing else leaves the cluster"


def test_rabbitmq_runs_three_nodes_with_quorum_queues_and_a_user_per_service():
    docs = render("platform/overlays/production")
    [cluster] = of_kind(docs, "RabbitmqCluster")
    assert cluster["spec"]["replicas"] == 3
    assert re.fullmatch(r"rabbitmq:4\.\d+-management", cluster["spec"]["image"])
    assert "default_queue_type = quorum" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    users = {u["metadata"]["name"]: u for u in of_kind(docs, "User")}
    with_amqp = {s for s in SERVICES if "AMQP_URL" in of_kind(overlay(s, "production"), "Secret")[0]["stringData"]}
    assert set(users) == with_amqp
    secrets = {s["metadata"]["name"]: s for s in of_kind(docs, "Secret")}
    for name, user in users.items():
        credentials = secrets[user["spec"]["importCredentialsSecret"]["name"]]["stringData"]
        assert credentials["username"] == name and user["spec"]["tags"] == []
    for permission in of_kind(docs, "Permission"):
        name = permission["spec"]["userReference"]["name"]
        own = name.replace(".", "\\.")
        for right, pattern in permission["spec"]["permissions"].items():
            assert f"|{own}\\..+)$" in pattern, f"{name} {right}: its own queues only"
            compiled = re.compile(pattern)
            assert compiled.fullmatch(f"{name}.some-queue") and compiled.fullmatch("crm.events")
            assert not any(compiled.fullmatch(f"{other}.queue") for other in users if other != name)


# --- the connection budget ------------------------------------------------------------------------------------
# At most open at once per process, from the code: an HTTP worker's pool (DB_POOL_SIZE +
# DB_MAX_OVERFLOW); a relay holds its advisory-lock session plus one working connection (its loop is
# single-threaded); a consumer one session plus, in sync-worker, one for recording failures;
# webhook-service's delivery worker one per sending thread plus its claim loop's, its LISTEN
# session and a spare (webhook_service/entrypoints/deliverer.py: WEBHOOK_CONCURRENCY + 3).
# customer-service's scheduled import (issue 21) holds its source's advisory-lock session plus one
# working connection, like a relay.
# Init containers (`migrate`) finish before the pod's main container opens any.
RELAY_CONNECTIONS, CONSUMER_CONNECTIONS, DELIVERER_EXTRA_CONNECTIONS = 2, 2, 3
IMPORT_CONNECTIONS = 2


def budget(service: str) -> tuple[int, int]:
    """(connections at minimum replicas, at the autoscaler's maximum with one rollout surge pod each)."""
    docs = overlay(service, "production")
    config = config_of(docs)
    per_http_pod = int(config["WEB_CONCURRENCY"]) * (int(config["DB_POOL_SIZE"]) + int(config["DB_MAX_OVERFLOW"]))
    low = high = 0
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind(docs, "HorizontalPodAutoscaler")}
    for deployment in of_kind(docs, "Deployment"):
        command = command_of(main_container(deployment))[1]
        if command == "deliver":  # its ConfigMap states the threads it budgets for
            per_pod = int(config["WEBHOOK_CONCURRENCY"]) + DELIVERER_EXTRA_CONNECTIONS
        else:
            per_pod = {"serve": per_http_pod, "relay": RELAY_CONNECTIONS, "consume": CONSUMER_CONNECTIONS,
                       "sync-external": IMPORT_CONNECTIONS}[command]
        name = deployment["metadata"]["name"]
        minimum = hpas[name]["spec"]["minReplicas"] if name in hpas else deployment["spec"]["replicas"]
        maximum = hpas[name]["spec"]["maxReplicas"] if name in hpas else deployment["spec"]["replicas"]
        surge = deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"]
        low += minimum * per_pod
        high += (maximum + surge) * per_pod
    return low, high


def readme_budget_table() -> dict[str, tuple[int, int, int]]:
    text = (ROOT / "deploy" / "README.md").read_text()
    rows = {}
    for line in text.split("<!-- connection-budget -->", 2)[1].splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 5 and cells[0] in DB_VARIABLE:
            rows[cells[0]] = (int(cells[-3]), int(cells[-2]), int(cells[-1]))
    return rows


def test_the_connection_budget_fits_postgresql_and_is_the_one_the_readme_states():
    cluster = of_kind(render("platform/overlays/production"), "Cluster")[0]
    max_connections = int(cluster["spec"]["postgresql"]["parameters"]["max_connections"])
    limits = {r["name"]: r["connectionLimit"] for r in cluster["spec"]["managed"]["roles"]}
    table = readme_budget_table()
    assert set(table) == set(DB_VARIABLE), "deploy/README.md has a budget row per service with a database"
    total_high = 0
    for service in DB_VARIABLE:
        low, high = budget(service)
        role = f"crm_{SHORT[service]}"
        assert limits[role] == high, f"{role}: connectionLimit {limits[role]}, the service can open {high}"
        assert table[service] == (low, high, limits[role]), f"deploy/README.md's row for {service}"
        total_high += high
    reserved = 3 + 10  # superuser_reserved_connections, and the operator's own sessions (deploy/README.md)
    assert total_high <= max_connections - reserved, f"{total_high} > {max_connections} - {reserved}"
    assert f"max_connections` = {max_connections}" in (ROOT / "deploy" / "README.md").read_text()
    assert f"| **total** | | **{sum(budget(s)[0] for s in DB_VARIABLE)}** | **{total_high}** |" in \
        (ROOT / "deploy" / "README.md").read_text()


def test_each_service_role_may_use_its_own_database_only():
    cluster = of_kind(render("platform/overlays/production"), "Cluster")[0]
    databases = {d["spec"]["name"]: d["spec"]["owner"] for d in of_kind(render("platform/overlays/production"),
                                                                           "Database")}
    assert databases == {f"crm_{SHORT[s]}": f"crm_{SHORT[s]}" for s in DB_VARIABLE}
    hba = cluster["spec"]["postgresql"]["pg_hba"]
    for database in databases:
        assert f"hostssl {database} {database} all scram-sha-256" in hba
    reject = hba[-1].split()
    assert reject[0] == "host" and set(reject[1].split(",")) == set(databases) and reject[2:] == ["all", "all", "reject"]
    for service in DB_VARIABLE:
        url = of_kind(overlay(service, "production"), "Secret")[0]["stringData"][DB_VARIABLE[service]]
        assert f"://crm_{SHORT[service]}:" in url and url.split("?")[0].endswith(f"/crm_{SHORT[service]}")
        assert "crm-postgres-rw.crm-data.svc" in url and url.endswith("?sslmode=require")
