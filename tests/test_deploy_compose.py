"""docker-compose.yml, checked without a docker engine (none here, and `docker compose config`
needs the compose plugin): it parses, names only files and images that exist, runs every process
of CONTRACT §1 with the §2 variable names, gives each service a profile that starts it with what
it depends on, limits every container's resources, keeps metrics ports off the host, gives every
service its own database role and broker user, holds no key that could sign a token, and starts
in a healthy order. The bootstrap scripts it mounts run here against the local PostgreSQL and
RabbitMQ."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import uuid
from pathlib import Path

import pika
import pytest
import sqlalchemy as sa
import yaml

from crm_common.release import project_version
from crm_testing import HTTP_SERVICES, PG_ADMIN_URL, WORKERS, create_vhost, delete_vhost, repo_root

ROOT = repo_root()
COMPOSE = ROOT / "docker-compose.yml"
PUBLIC_IMAGES = ("postgres:", "rabbitmq:", "redis:")
CONTRACT_VARIABLES = {"AMQP_URL", "EXTERNAL_MYSQL_URL", "CUSTOMER_DATABASE_URL", "VIEWING_DATABASE_URL",
                      "ANALYTICS_DATABASE_URL", "SYNC_DATABASE_URL", "CUSTOMER_SERVICE_URL", "VIEWING_SERVICE_URL",
                      "ANALYTICS_SERVICE_URL", "SYNC_SERVICE_URL", "GATEWAY_PORT", "REDIS_URL", "PROPERTY_LOOKUP_URL",
                      # webhook-service (CONTRACT §6)
                      "WEBHOOK_DATABASE_URL", "WEBHOOK_SERVICE_URL",
                      # the token issuer (CONTRACT §3)
                      "ISSUER_DATABASE_URL", "ISSUER_SERVICE_URL", "ISSUER_KEY_ENCRYPTION_KEY"}
DB_VARIABLE = {"customer-service": "CUSTOMER_DATABASE_URL", "viewing-service": "VIEWING_DATABASE_URL",
               "analytics-service": "ANALYTICS_DATABASE_URL", "sync-worker": "SYNC_DATABASE_URL",
               "webhook-service": "WEBHOOK_DATABASE_URL", "token-issuer": "ISSUER_DATABASE_URL"}
HTTP_PORTS = {"gateway": 8080, "customer-service": 8001, "viewing-service": 8002, "analytics-service": 8003,
              "sync-worker": 8004, "webhook-service": 8005, "token-issuer": 8006}
# A profile per service: its short name (CONTRACT §2 variable prefix).
PROFILE = {"gateway": "gateway", "customer-service": "customer", "viewing-service": "viewing",
           "analytics-service": "analytics", "sync-worker": "sync", "webhook-service": "webhook",
           "token-issuer": "issuer"}
PACKAGE_DIR = {"gateway": "gateway", **{name: name for name in DB_VARIABLE}}
# Services with a RabbitMQ user (the token issuer publishes and consumes nothing).
BROKER_USERS = [name for name in DB_VARIABLE if name != "token-issuer"]
INFRASTRUCTURE = {"postgres", "rabbitmq", "rabbitmq-users", "redis"}
METRICS_PORT = "9100"

# CONTRACT §1 and the brief: every process of the set, as (console script, command).
EXPECTED = {(name, "serve") for name in HTTP_PORTS} | {
    ("customer-service", "relay"), ("viewing-service", "relay"), ("analytics-service", "relay"),
    ("sync-worker", "consume"), ("customer-service", "consume"), ("analytics-service", "consume"),
    ("viewing-service", "consume"), ("webhook-service", "consume"), ("webhook-service", "deliver"),
    ("customer-service", "sync-external"),
}
WORKER_COMMANDS = ("relay", "consume", "deliver", "sync-external")  # loops with a heartbeat


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


def package_version(name: str) -> str:
    return project_version(ROOT / PACKAGE_DIR[name])  # its __version__, the one place


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def app_services(compose: dict) -> dict[str, dict]:
    return {name: svc for name, svc in compose["services"].items() if "build" in svc}


def long_running(compose: dict) -> dict[str, dict]:
    """The processes of the set (not the one-shot migrate and declare jobs)."""
    return {name: svc for name, svc in app_services(compose).items() if svc.get("restart") != "no"}


def one_shot(svc: dict) -> bool:
    return svc.get("restart") == "no"


def owner(svc: dict) -> str:
    """The service a container belongs to: its console script."""
    return svc["command"][0]


def started_by(compose: dict, profiles: set[str]) -> set[str]:
    """What `docker compose --profile P up` starts: services without a profile and those in P."""
    return {name for name, svc in compose["services"].items()
            if not svc.get("profiles") or profiles & set(svc["profiles"])}


# --- shape ----------------------------------------------------------------------------------------

def test_compose_parses_with_known_top_level_keys(compose):
    assert set(k for k in compose if not k.startswith("x-")) <= {"name", "services", "volumes", "networks",
                                                                 "configs", "secrets"}
    for name, svc in compose["services"].items():
        assert "image" in svc or "build" in svc, name


def test_compose_references_only_files_in_the_repository_and_pinned_images(compose):
    for name, svc in compose["services"].items():
        if "build" in svc:
            context = ROOT / svc["build"]["context"]
            assert context.is_dir(), f"{name}: build context {context}"
            dockerfile = svc["build"]["dockerfile"]
            assert (context / dockerfile).is_file(), f"{name}: {dockerfile}"
            image = Path(dockerfile).name.removesuffix(".Dockerfile")
            assert owner(svc) == image, f"{name}: runs {owner(svc)} from the {image} image"
            assert svc["image"] == f"crm/{image}:{package_version(image)}", \
                f"{name}: tag built images by their package version"
        else:
            assert svc["image"].startswith(PUBLIC_IMAGES), f"{name}: {svc['image']} is neither built here nor standard"
            assert not svc["image"].endswith(":latest") and ":" in svc["image"], f"{name}: pin the image"
        for volume in svc.get("volumes", []):
            source = volume.split(":")[0] if isinstance(volume, str) else volume.get("source", "")
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name}: mounts missing {source}"
            else:
                assert source in (compose.get("volumes") or {}), f"{name}: undeclared volume {source}"


def test_compose_broker_is_a_supported_4x_series_with_the_ui_and_the_shovel_for_replays(compose):
    rabbit = compose["services"]["rabbitmq"]
    # RabbitMQ 3.x is out of community support; a minor series is pinned, not "4" or "latest".
    assert re.fullmatch(r"rabbitmq:4\.\d+-management", rabbit["image"]), rabbit["image"]
    assert compose["services"]["rabbitmq-users"]["image"] == rabbit["image"], "the CLI of the same release"
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


# --- profiles: each service alone, with its dependencies ------------------------------------------

def test_every_service_has_its_own_profile_and_all_starts_everything(compose):
    for name, svc in app_services(compose).items():
        assert set(svc.get("profiles", [])) == {PROFILE[owner(svc)], "all"}, f"{name}: profiles"
    for name in INFRASTRUCTURE:
        assert not compose["services"][name].get("profiles"), f"{name} is needed by every profile"
    assert started_by(compose, {"all"}) == set(compose["services"])


@pytest.mark.parametrize("profile", sorted(set(PROFILE.values())))
def test_one_profile_starts_its_service_with_every_required_dependency(compose, profile):
    """`docker compose --profile <p> up`: every process of that service, its jobs and the data
    stores, and nothing of another service; every dependency that is required is started too
    (compose refuses a project whose required dependency is not)."""
    services = compose["services"]
    started = started_by(compose, {profile})
    cli = next(name for name, p in PROFILE.items() if p == profile)
    mine = {name for name, svc in app_services(compose).items() if owner(svc) == cli}
    assert started == INFRASTRUCTURE | mine
    assert {tuple(services[n]["command"][:2]) for n in mine if not one_shot(services[n])} \
        == {p for p in every_process() if p[0] == cli}
    for name in started:
        for dep, spec in (services[name].get("depends_on") or {}).items():
            if spec.get("required", True):
                assert dep in started, f"--profile {profile}: {name} requires {dep}, which is not started"
            else:
                assert dep not in INFRASTRUCTURE and owner(services[dep]) != cli, \
                    f"{name}: only other services' containers may be optional"


# --- resources, ports, health, order ----------------------------------------------------------------

def test_every_container_has_resource_limits(compose):
    for name, svc in compose["services"].items():
        limits = (svc.get("deploy") or {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name}: no cpu/memory limit"
        assert re.fullmatch(r"\d+[MG]", limits["memory"]), f"{name}: {limits['memory']}"


def test_only_the_gateway_and_the_local_broker_ui_are_published_and_no_metrics_port(compose):
    published = {name: svc["ports"] for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"gateway": ["8080:8080"], "rabbitmq": ["127.0.0.1:15672:15672"]}
    for name, svc in app_services(compose).items():
        env = svc["environment"]
        assert env["METRICS_PORT"] == METRICS_PORT, f"{name}: every process serves metrics on METRICS_PORT"
        assert all(METRICS_PORT not in str(p) for p in svc.get("ports", []) + svc.get("expose", [])), name


def test_workers_are_healthy_only_while_their_loop_turns(compose):
    for name, svc in long_running(compose).items():
        test = svc["healthcheck"]["test"]
        if svc["command"][1] in WORKER_COMMANDS:
            heartbeat = svc["environment"]["HEARTBEAT_FILE"]
            assert heartbeat.startswith("/tmp/") and "/tmp" in svc["tmpfs"], name
            assert test[:3] == ["CMD", "python", "/usr/local/bin/crm-healthcheck"], name
            assert test[test.index("--heartbeat") + 1] == heartbeat, f"{name}: checks its own heartbeat"
            assert float(test[test.index("--max-age") + 1]) <= 120, name
        else:
            assert "--heartbeat" not in test and "HEARTBEAT_FILE" not in svc["environment"], name


def test_relays_wait_for_every_running_consumers_queue(compose):
    services = compose["services"]
    declare_jobs = {name for name, svc in app_services(compose).items() if "--declare-only" in svc["command"]}
    assert declare_jobs
    for name, svc in long_running(compose).items():
        if svc["command"][1] != "relay":
            continue
        waits = {d: spec for d, spec in svc["depends_on"].items()
                 if spec["condition"] == "service_completed_successfully"}
        assert declare_jobs <= set(waits), f"{name} may publish before {sorted(declare_jobs - set(waits))}"
        for job in declare_jobs:
            mine = owner(services[job]) == owner(svc)
            assert waits[job].get("required", True) is mine, \
                f"{name}: its own queue job is required, other services' are waited for when running"
            assert services[job]["depends_on"]["rabbitmq-users"]["condition"] == "service_completed_successfully"


def test_compose_starts_in_order_of_health_and_migrations(compose):
    services = compose["services"]
    for name, svc in services.items():
        for dep, spec in (svc.get("depends_on") or {}).items():
            assert dep in services, f"{name} depends on unknown {dep}"
            assert set(spec) <= {"condition", "required"}, (name, dep)
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
                        and services[d].get("command") == [cli, "migrate"]]
            assert migrated or "--migrate" in svc["command"], f"{name} may start before its migrations"
        if "AMQP_URL" in svc["environment"] and command in ("relay", "consume"):
            assert any(d == "rabbitmq-users" or "--declare-only" in services[d].get("command", [])
                       for d in svc["depends_on"]), f"{name} may connect before its broker user exists"
    gateway = services["gateway"]
    assert {d for d, spec in gateway["depends_on"].items() if spec["condition"] == "service_healthy"} \
        >= set(DB_VARIABLE)
    for service, port in HTTP_PORTS.items():
        if service != "gateway":  # it routes to each by its compose name
            prefix = "ISSUER" if service == "token-issuer" else PROFILE[service].upper()
            assert gateway["environment"][f"{prefix}_SERVICE_URL"] == f"http://{service}:{port}", service
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


# --- configuration and credentials --------------------------------------------------------------------

def secret_variables(value: str) -> set[str]:
    return set(re.findall(r"\$\{(\w+):\?", str(value)))


def test_compose_environment_uses_contract_names_and_no_literal_secrets(compose):
    for name, svc in app_services(compose).items():
        env = svc["environment"]
        cli, command = svc["command"][:2]
        # Issue 17: HS256 refused, no key that could sign a token; the issuer's tokens are verified.
        assert env["CRM_ENV"] == "production" and not {"JWT_SECRET", "ALLOW_HS256"} & set(env), name
        assert env["ISSUER_SERVICE_URL"] == "http://token-issuer:8006", name
        databases = {k for k in env if k.endswith("_DATABASE_URL")}
        assert databases == ({DB_VARIABLE[cli]} if cli in DB_VARIABLE else set()), f"{name}: only its own database"
        for key, value in env.items():
            if key.endswith("_URL") and key != "HEALTHCHECK_URL":
                assert key in CONTRACT_VARIABLES, f"{name}: {key} is not a CONTRACT §2 name"
        if command == "serve":
            assert int(env.get("PORT", HTTP_PORTS[cli])) == HTTP_PORTS[cli]
    for name, svc in compose["services"].items():
        for key, value in (svc.get("environment") or {}).items():
            if any(word in key for word in ("PASSWORD", "SECRET")):
                assert str(value).startswith("${") and ":?" in str(value), f"{name}: {key} must come from .env"


def test_every_service_has_its_own_database_role_and_broker_user_and_no_credential_is_shared(compose):
    used_by: dict[str, set[str]] = {}
    for name, svc in app_services(compose).items():
        cli = owner(svc)
        env = svc["environment"]
        for value in env.values():
            for variable in secret_variables(value):
                used_by.setdefault(variable, set()).add(cli)
        if cli in DB_VARIABLE:
            url = sa.engine.make_url(env[DB_VARIABLE[cli]].replace("${", "").replace("}", ""))
            assert url.username == url.database == f"crm_{PROFILE[cli]}", f"{name}: its own role and database"
        if "AMQP_URL" in env:
            user = re.match(r"amqp://([^:]+):", env["AMQP_URL"]).group(1)
            assert user == cli, f"{name}: connects as {user}, not as its own broker user"
    shared = {variable: owners for variable, owners in used_by.items() if len(owners) > 1}
    assert not shared, f"credentials shared between services: {shared}"
    assert {"RABBITMQ_PASSWORD", "CRM_DB_PASSWORD"}.isdisjoint(used_by), "the old shared credentials"
    # The data stores get exactly the per-service passwords they create the accounts with.
    example = {line.split("=", 1)[0] for line in (ROOT / "deploy/compose.env.example").read_text().splitlines()
               if "=" in line and not line.startswith("#")}
    everywhere = set()
    for svc in compose["services"].values():
        for value in (svc.get("environment") or {}).values():
            everywhere |= secret_variables(value)
    assert everywhere == example, "deploy/compose.env.example lists exactly the secrets compose asks for"
    users = compose["services"]["rabbitmq-users"]["environment"]
    postgres = compose["services"]["postgres"]["environment"]
    for cli, short in PROFILE.items():
        if cli in DB_VARIABLE:
            assert f"{short.upper()}_DB_PASSWORD" in postgres
        if any("AMQP_URL" in svc["environment"] for svc in app_services(compose).values() if owner(svc) == cli):
            assert f"{short.upper()}_AMQP_PASSWORD" in users


def test_compose_creates_the_databases_the_services_use(compose):
    postgres = compose["services"]["postgres"]
    assert any(v.endswith("/docker-entrypoint-initdb.d/10-crm-databases.sh:ro") for v in postgres["volumes"])
    script = (ROOT / "deploy/postgres/init-databases.sh").read_text()
    defaults = re.search(r"CRM_DATABASES:-([a-z ]+)\}", script).group(1).split()
    used = {re.search(r"/(crm_\w+)$", svc["environment"][k]).group(1)
            for svc in app_services(compose).values() for k in svc["environment"] if k.endswith("_DATABASE_URL")}
    assert used == {f"crm_{name}" for name in defaults}


# --- the bootstrap scripts, run here -------------------------------------------------------------------

@pytest.mark.slow
def test_postgres_bootstrap_gives_each_service_its_own_closed_database_and_password():
    """init-databases.sh, run against the local PostgreSQL as the image would run it."""
    tag = uuid.uuid4().hex[:8]
    names = [f"t{tag}a", f"t{tag}b"]
    admin = sa.engine.make_url(PG_ADMIN_URL)
    env = {**os.environ, "CRM_DATABASES": " ".join(names),
           **{f"{name.upper()}_DB_PASSWORD": f"pw{i}{tag}" for i, name in enumerate(names)},
           "POSTGRES_USER": admin.username or "postgres", "POSTGRES_DB": admin.database or "postgres",
           "PGHOST": admin.host or "127.0.0.1", "PGPORT": str(admin.port or 5432)}
    if admin.password:
        env["PGPASSWORD"] = admin.password
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    host = f"{admin.host or '127.0.0.1'}:{admin.port or 5432}"
    try:
        missing = subprocess.run(["sh", str(ROOT / "deploy/postgres/init-databases.sh")],
                                 env={k: v for k, v in env.items() if not k.endswith("_DB_PASSWORD")},
                                 capture_output=True, text=True, timeout=60)
        assert missing.returncode != 0 and f"{names[0].upper()}_DB_PASSWORD must be set" in missing.stderr
        done = subprocess.run(["sh", str(ROOT / "deploy/postgres/init-databases.sh")], env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        own = sa.create_engine(f"postgresql+psycopg2://crm_{names[0]}:pw0{tag}@{host}/crm_{names[0]}",
                               poolclass=sa.pool.NullPool)
        with own.connect() as conn:
            conn.execute(sa.text("CREATE TABLE t (id int)"))  # owns its database
            conn.commit()
        other = sa.create_engine(f"postgresql+psycopg2://crm_{names[0]}:pw0{tag}@{host}/crm_{names[1]}",
                                 poolclass=sa.pool.NullPool)
        with pytest.raises(sa.exc.OperationalError, match="permission denied"):
            other.connect()
    finally:
        with engine.connect() as conn:
            for name in names:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "crm_{name}" WITH (FORCE)'))
                conn.execute(sa.text(f'DROP ROLE IF EXISTS "crm_{name}"'))
        engine.dispose()


def k8s_permissions() -> dict[str, dict[str, str]]:
    """The Permission objects of the Kubernetes platform, by user."""
    docs = yaml.safe_load_all((ROOT / "deploy/k8s/platform/base/rabbitmq.yaml").read_text())
    return {d["spec"]["userReference"]["name"]: d["spec"]["permissions"]
            for d in docs if d and d["kind"] == "Permission"}


@pytest.mark.slow
def test_broker_users_can_do_their_own_work_and_nothing_on_another_services_queues(tmp_path):
    """create-users.sh against the local RabbitMQ (its own vhost, prefixed user names); then each
    service's real `consume --declare-only` runs as its own user, a relay publishes with it, and a
    user that touches another service's queue is refused."""
    amqp = create_vhost("crm_users")
    vhost = amqp.rsplit("/", 1)[1]
    prefix = f"t{uuid.uuid4().hex[:8]}-"
    passwords = {PROFILE[cli]: uuid.uuid4().hex for cli in BROKER_USERS}
    env = {**os.environ, "AMQP_VHOST": pika.URLParameters(amqp).virtual_host, "AMQP_USER_PREFIX": prefix,
           **{f"{short.upper()}_AMQP_PASSWORD": pw for short, pw in passwords.items()}}
    host = amqp.split("@", 1)[1].rsplit("/", 1)[0]
    url = lambda cli: f"amqp://{prefix}{cli}:{passwords[PROFILE[cli]]}@{host}/{vhost}"  # noqa: E731
    created = []
    try:
        for _ in range(2):  # idempotent: a second run resets, never fails
            done = subprocess.run(["sh", str(ROOT / "deploy/rabbitmq/create-users.sh")], env=env,
                                  capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            created = [f"{prefix}{cli}" for cli in BROKER_USERS]
        for cli in BROKER_USERS:
            listed = subprocess.run(["rabbitmqctl", "-q", "list_user_permissions", f"{prefix}{cli}"],
                                    capture_output=True, text=True, timeout=60, check=True).stdout
            row = next(line.split("\t") for line in listed.splitlines() if line.startswith(env["AMQP_VHOST"] + "\t"))
            assert dict(zip(("configure", "write", "read"), row[1:4])) == k8s_permissions()[cli], \
                f"{cli}: compose and Kubernetes grant the same rights"
        for cli in ("customer-service", "viewing-service", "analytics-service", "sync-worker", "webhook-service"):
            run = subprocess.run([str(Path(sys.executable).parent / cli), "consume", "--declare-only"],
                                 env={**os.environ, "AMQP_URL": url(cli), "CRM_HOME": str(tmp_path)},
                                 capture_output=True, text=True, timeout=60)
            assert run.returncode == 0, run.stderr
        # Publish as viewing-service, as its relay does (confirmed by the broker).
        connection = pika.BlockingConnection(pika.URLParameters(url("viewing-service")))
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish("crm.events", "viewing.recorded", b"{}", mandatory=False)
        connection.close()
        # customer-service may not read or bind sync-worker's queue.
        connection = pika.BlockingConnection(pika.URLParameters(url("customer-service")))
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
            connection.channel().basic_get("sync-worker.customer-sync")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker, match="ACCESS_REFUSED"):
            connection.channel().queue_bind("sync-worker.customer-sync", "crm.events", "viewing.*")
        connection.close()
    finally:
        for user in created:
            subprocess.run(["rabbitmqctl", "-q", "delete_user", user], capture_output=True, timeout=60)
        delete_vhost(amqp)
