"""Issue 8: docker-compose.yml and the Kubernetes manifests (deploy/k8s), checked without a
docker engine or a cluster: they parse, name only files and images that exist, run every
process of CONTRACT §1 with the §2 variable names, start in a healthy order, keep secrets
out, and the manifests validate against the Kubernetes schemas (kubernetes-validate, offline)."""
from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import uuid

import kubernetes_validate
import pytest
import sqlalchemy as sa
import yaml

from crm_testing import HTTP_SERVICES, PG_ADMIN_URL, WORKERS, repo_root

ROOT = repo_root()
COMPOSE = ROOT / "docker-compose.yml"
K8S = ROOT / "deploy" / "k8s"
PUBLIC_IMAGES = ("postgres:", "rabbitmq:", "redis:")
CONTRACT_VARIABLES = {"JWT_SECRET", "AMQP_URL", "CUSTOMER_DATABASE_URL", "VIEWING_DATABASE_URL",
                      "ANALYTICS_DATABASE_URL", "SYNC_DATABASE_URL", "CUSTOMER_SERVICE_URL", "VIEWING_SERVICE_URL",
                      "ANALYTICS_SERVICE_URL", "SYNC_SERVICE_URL", "GATEWAY_PORT", "REDIS_URL", "PROPERTY_LOOKUP_URL"}
DB_VARIABLE = {"customer-service": "CUSTOMER_DATABASE_URL", "viewing-service": "VIEWING_DATABASE_URL",
               "analytics-service": "ANALYTICS_DATABASE_URL", "sync-worker": "SYNC_DATABASE_URL"}
HTTP_PORTS = {"gateway": 8080, "customer-service": 8001, "viewing-service": 8002, "analytics-service": 8003,
              "sync-worker": 8004}

# CONTRACT §1 and the brief: every process of the set, as (console script, command).
EXPECTED = {(name, "serve") for name in HTTP_PORTS} | {
    ("customer-service", "relay"), ("viewing-service", "relay"), ("analytics-service", "relay"),
    ("sync-worker", "consume"), ("customer-service", "consume"), ("analytics-service", "consume"),
}


def processes_in_the_repository() -> set[tuple[str, str]]:
    """What the Procfile and the test harness run today (others may have added some)."""
    found = set()
    for line in (ROOT / "Procfile").read_text().splitlines():
        if ":" not in line or line.lstrip().startswith("#"):
            continue
        words = [w for w in shlex.split(line.split(":", 1)[1]) if "=" not in w]
        if len(words) >= 2:
            found.add((words[0], words[1]))
    for service, tail in WORKERS.values():
        found.add((HTTP_SERVICES[service]["dir"], tail[0]))
    return found


def every_process() -> set[tuple[str, str]]:
    return EXPECTED | processes_in_the_repository()


# --- docker-compose.yml -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def long_running(compose: dict) -> dict[str, dict]:
    """The processes of the set (not the one-shot migrate and declare jobs)."""
    return {name: svc for name, svc in app_services(compose).items() if svc.get("restart") != "no"}


def one_shot(svc: dict) -> bool:
    return svc.get("restart") == "no" and (svc["command"][1] == "migrate" or "--declare-only" in svc["command"])


def test_compose_parses_with_known_top_level_keys(compose):
    assert set(k for k in compose if not k.startswith("x-")) <= {"name", "services", "volumes", "networks",
                                                                 "configs", "secrets"}
    for name, svc in compose["services"].items():
        assert "image" in svc or "build" in svc, name


def test_compose_references_only_files_in_the_repository_and_standard_images(compose):
    for name, svc in compose["services"].items():
        if "build" in svc:
            context = ROOT / svc["build"]["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            assert (context / svc["build"]["dockerfile"]).is_file(), f"{name}: {svc['build']['dockerfile']}"
            assert svc.get("image", "").startswith("crm/"), f"{name}: tag built images as crm/*"
        else:
            assert svc["image"].startswith(PUBLIC_IMAGES), f"{name}: {svc['image']} is neither built here nor standard"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: mounts missing {source}"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: undeclared volume {source}"
        for env_file in ([svc["env_file"]] if isinstance(svc.get("env_file"), str) else svc.get("env_file", [])):
            path = env_file if isinstance(env_file, str) else env_file["path"]
            assert (ROOT / path).exists(), f"{name}: env file {path}"
    assert any(svc["image"].startswith("rabbitmq:3-management") for svc in compose["services"].values()
               if "image" in svc and "build" not in svc)


def test_compose_broker_has_the_management_ui_and_the_shovel_for_replays(compose):
    rabbit = compose["services"]["rabbitmq"]
    assert "127.0.0.1:15672:15672" in rabbit["ports"]
    mounted = [v.split(":")[0] for v in rabbit["volumes"] if v.endswith("/etc/rabbitmq/enabled_plugins:ro")]
    plugins = (ROOT / mounted[0]).read_text()
    for plugin in ("rabbitmq_management", "rabbitmq_shovel", "rabbitmq_shovel_management"):
        assert re.search(rf"\b{plugin}\b", plugins), plugin
    assert plugins.strip().startswith("[") and plugins.strip().endswith("]."), "an Erlang term"


def test_compose_runs_every_process_of_the_set(compose):
    commands = {tuple(svc["command"][:2]) for svc in long_running(compose).values()}
    missing = every_process() - commands
    assert not missing, f"not in docker-compose.yml: {sorted(missing)}"
    jobs = [svc["command"] for name, svc in app_services(compose).items() if name not in long_running(compose)]
    for service in DB_VARIABLE:
        assert [service, "migrate"] in jobs, f"no one-shot migration for {service}"
    for cli, command in every_process():
        if command == "consume":
            assert [cli, "consume", "--declare-only"] in jobs, f"no one-shot queue declaration for {cli}"


def test_compose_relays_publish_only_after_every_queue_is_declared(compose):
    services = compose["services"]
    declare_jobs = {name for name, svc in app_services(compose).items() if "--declare-only" in svc["command"]}
    assert declare_jobs
    for name, svc in long_running(compose).items():
        if svc["command"][1] == "relay":
            waits_for = {d for d, spec in svc["depends_on"].items()
                         if spec["condition"] == "service_completed_successfully"}
            assert declare_jobs <= waits_for, f"{name} may publish before {sorted(declare_jobs - waits_for)}"
            for job in declare_jobs:
                assert services[job]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"


def test_compose_starts_in_order_of_health_and_migrations(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert spec["condition"] in ("service_healthy", "service_completed_successfully"), (name, dep)
            if spec["condition"] == "service_healthy":
                assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no health check"
            else:
                assert one_shot(services[dep]), f"{name} waits for {dep} to complete, which is not a job"
    for name, svc in long_running(compose).items():
        cli, command = svc["command"][:2]
        assert "healthcheck" in svc, f"{name} has no health check"
        if cli in DB_VARIABLE:  # its own migrations first
            migrated = [d for d, spec in svc["depends_on"].items()
                        if spec["condition"] == "service_completed_successfully"
                        and services[d]["command"] == [cli, "migrate"]]
            assert migrated or "--migrate" in svc["command"], f"{name} may start before its migrations"
    gateway = services["gateway"]
    assert "8080:8080" in gateway["ports"]
    assert {d for d, spec in gateway["depends_on"].items() if spec["condition"] == "service_healthy"} >= set(DB_VARIABLE)
    # depends_on has no cycle
    seen: dict[str, int] = {}

    def visit(node: str) -> None:
        assert seen.get(node) != 1, f"depends_on cycle through {node}"
        if seen.get(node) == 2:
            return
        seen[node] = 1
        for dep in services[node].get("depends_on") or {}:
            visit(dep)
        seen[node] = 2
    for node in services:
        visit(node)


def test_compose_environment_uses_contract_names_and_no_literal_secrets(compose):
    for name, svc in app_services(compose).items():
        env = svc["environment"]
        cli, command = svc["command"][:2]
        assert env["JWT_SECRET"].startswith("${JWT_SECRET:?"), name
        assert "AMQP_URL" in env and "${RABBITMQ_PASSWORD:?" in env["AMQP_URL"]
        databases = {k for k in env if k.endswith("_DATABASE_URL")}
        assert databases == ({DB_VARIABLE[cli]} if cli in DB_VARIABLE else set()), f"{name}: only its own database"
        for key in databases:
            assert "${CRM_DB_PASSWORD:?" in env[key]
        for key, value in env.items():
            if key.endswith("_URL") or key in ("GATEWAY_PORT",):
                assert key in CONTRACT_VARIABLES or key == "HEALTHCHECK_URL", f"{name}: {key} is not a CONTRACT §2 name"
        if command in ("relay", "consume") and svc.get("restart") != "no":
            assert env.get("METRICS_PORT"), f"{name}: workers serve metrics on METRICS_PORT"
        if command == "serve":
            assert int(env.get("PORT", HTTP_PORTS[cli])) == HTTP_PORTS[cli]
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}: {key} must come from the environment"


def test_compose_creates_the_databases_the_services_use(compose):
    postgres = compose["services"]["postgres"]
    assert any(v.endswith("/docker-entrypoint-initdb.d/10-crm-databases.sh:ro") for v in postgres["volumes"])
    script = (ROOT / "deploy/postgres/init-databases.sh").read_text()
    defaults = re.search(r"CRM_DATABASES:-([a-z ]+)\}", script).group(1).split()
    used = {re.search(r"/(crm_\w+)$", svc["environment"][k]).group(1)
            for svc in app_services(compose).values() for k in svc["environment"] if k.endswith("_DATABASE_URL")}
    assert used == {f"crm_{name}" for name in defaults}


@pytest.mark.slow
def test_postgres_bootstrap_gives_each_service_its_own_closed_database():
    """init-databases.sh, run against the local PostgreSQL as the image would run it."""
    tag = uuid.uuid4().hex[:8]
    names = [f"t{tag}a", f"t{tag}b"]
    admin = sa.engine.make_url(PG_ADMIN_URL)
    env = {**os.environ, "CRM_DB_PASSWORD": "pw" + tag, "CRM_DATABASES": " ".join(names),
           "POSTGRES_USER": admin.username or "postgres", "POSTGRES_DB": admin.database or "postgres",
           "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432)}
    if admin.password:
        env["PGPASSWORD"] = admin.password
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        done = subprocess.run(["sh", str(ROOT / "deploy/postgres/init-databases.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        host = f"{admin.host or '127.0.0.1'}:{admin.port or 5432}"
        own = sa.create_engine(f"postgresql+psycopg2://crm_{names[0]}:pw{tag}@{host}/crm_{names[0]}",
                               poolclass=sa.pool.NullPool)
        with own.connect() as conn:
            conn.execute(sa.text("CREATE TABLE t (id int)"))  # owns its database
            conn.commit()
        other = sa.create_engine(f"postgresql+psycopg2://crm_{names[0]}:pw{tag}@{host}/crm_{names[1]}",
                                 poolclass=sa.pool.NullPool)
        with pytest.raises(sa.exc.OperationalError, match="permission denied"):
            other.connect()
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "crm_{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "crm_{name}"'))
        engine.dispose()


# --- Kubernetes ---------------------------------------------------------------------------------

@functools.cache
def k8s_documents() -> list[tuple[str, dict]]:
    """Every resource in deploy/k8s (parsed once; tests must not change them)."""
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") != "Kustomization":
                docs.append((path.name, doc))
    return docs


def of_kind(kind: str) -> list[dict]:
    return [doc for _, doc in k8s_documents() if doc["kind"] == kind]


def pod_containers(deployment: dict) -> list[dict]:
    spec = deployment["spec"]["template"]["spec"]
    return spec.get("initContainers", []) + spec["containers"]


def test_kustomization_lists_every_manifest():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.parametrize("where, doc", k8s_documents(),
                         ids=lambda v: v if isinstance(v, str) else f"{v['kind']}/{v['metadata']['name']}")
def test_manifest_validates_against_the_kubernetes_schema(where, doc):
    kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_kubernetes_runs_every_process_of_the_set_from_its_image():
    commands = set()
    for deployment in of_kind("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            cli, command = container["args"][:2]
            commands.add((cli, command))
            assert container["image"].split(":")[0] == f"crm/{cli}"
            assert (ROOT / "deploy/docker" / f"{cli}.Dockerfile").is_file()
            assert "command" not in container, "args keep the image's ENTRYPOINT"
    missing = every_process() - commands
    assert not missing, f"not in deploy/k8s: {sorted(missing)}"


def test_every_deployment_is_locked_down_with_resources_and_a_writable_tmp():
    for deployment in of_kind("Deployment"):
        name = deployment["metadata"]["name"]
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        tmp_volumes = {v["name"] for v in pod["volumes"] if "emptyDir" in v}
        for container in pod_containers(deployment):
            sc = container["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), name
            assert {"cpu", "memory"} <= set(container["resources"]["limits"]), name
            assert any(m["mountPath"] == "/tmp" and m["name"] in tmp_volumes for m in container["volumeMounts"]), name


def test_http_services_have_probes_a_service_an_autoscaler_a_budget_and_migrations():
    deployments = {d["metadata"]["name"]: d for d in of_kind("Deployment")}
    services = {s["metadata"]["name"]: s for s in of_kind("Service")}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in of_kind("HorizontalPodAutoscaler")}
    pdbs = of_kind("PodDisruptionBudget")
    for name, port in HTTP_PORTS.items():
        deployment = deployments[name]
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert container["args"][:2] == [name, "serve"]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert {"name": "http", "containerPort": port, "protocol": "TCP"} in container["ports"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        service = services[name]
        assert all(labels.get(k) == v for k, v in service["spec"]["selector"].items())
        assert service["spec"]["ports"][0]["port"] == port and service["spec"]["ports"][0]["targetPort"] == "http"
        hpa = hpas[name]
        assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["minReplicas"] >= 2
        assert any(all(labels.get(k) == v for k, v in p["spec"]["selector"]["matchLabels"].items()) for p in pdbs), name
        if name in DB_VARIABLE:
            init = deployment["spec"]["template"]["spec"]["initContainers"]
            assert [c["args"][:2] for c in init] == [[name, "migrate"]], f"{name}: migrations before serving"


def test_relays_declare_every_consumer_queue_before_publishing():
    consumers = {cli for cli, command in every_process() if command == "consume"}
    for deployment in of_kind("Deployment"):
        if deployment["spec"]["template"]["spec"]["containers"][0]["args"][1] != "relay":
            continue
        init = deployment["spec"]["template"]["spec"]["initContainers"]
        declared = {c["args"][0] for c in init if c["args"][1:] == ["consume", "--declare-only"]}
        assert declared == consumers, deployment["metadata"]["name"]
        for container in init:
            assert container["image"].split(":")[0] == f"crm/{container['args'][0]}"


def test_workers_serve_metrics_and_relays_explain_their_replicas():
    for deployment in of_kind("Deployment"):
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        cli, command = container["args"][:2]
        if command not in ("relay", "consume"):
            continue
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["METRICS_PORT"] == "9100"
        assert any(p["containerPort"] == 9100 for p in container["ports"])
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/port"] == "9100"
        if cli in DB_VARIABLE:  # its schema before it writes
            assert deployment["spec"]["template"]["spec"]["initContainers"][0]["args"][:2] == [cli, "migrate"]
        if command == "relay" and deployment["spec"]["replicas"] > 1:
            text = (K8S / f"{cli}.yaml").read_text()
            assert "advisory" in text and "stand" in text, "say why several relay replicas are safe"


def test_config_and_secret_hold_every_reference_and_only_placeholders():
    config = {c["metadata"]["name"]: c for c in of_kind("ConfigMap")}
    secrets = {s["metadata"]["name"]: s for s in of_kind("Secret")}
    for deployment in of_kind("Deployment"):
        for container in pod_containers(deployment):
            for source in container.get("envFrom", []):
                assert source["configMapRef"]["name"] in config
            names = [e["name"] for e in container["env"]]
            assert len(names) == len(set(names)), f"{deployment['metadata']['name']}: duplicate env"
            for e in container["env"]:
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]]["stringData"], ref
                    assert e["name"] == ref["key"]
                if e["name"].endswith("_DATABASE_URL"):
                    assert e["name"] == DB_VARIABLE[container["args"][0]], "only its own database"
                assert "SECRET" not in e["name"] or "valueFrom" in e, "secrets only from the Secret"
    for key in config["crm-config"]["data"]:
        assert not any(word in key for word in ("SECRET", "PASSWORD", "DATABASE_URL", "AMQP_URL"))
        if key.endswith("_URL"):
            assert key in CONTRACT_VARIABLES
    for key, value in secrets["crm-secrets"]["stringData"].items():
        assert key in CONTRACT_VARIABLES, key
        assert "REPLACE_ME" in value or key == "REDIS_URL", f"{key} must be a placeholder"
    assert len(secrets["crm-secrets"]["stringData"]["JWT_SECRET"]) < 32, \
        "the placeholder must be refused by CRM_ENV=production"


def test_kubernetes_validation_catches_a_broken_manifest():
    """The validator really checks: an unknown field and a wrong type are refused."""
    deployment = of_kind("Deployment")[0]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, kubernetes_validate.latest_version(), strict=True)


def test_dockerignore_keeps_local_state_out_of_every_image():
    lines = [l.strip() for l in (ROOT / ".dockerignore").read_text().splitlines()]
    assert lines[lines.index("*")] == "*", "an allowlist: everything is excluded first"
    assert "!.env" not in lines and "!.git" not in lines and "!.venv" not in lines
