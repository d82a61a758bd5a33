"""Issue 17: no process but the token issuer can read the key-encryption key of its private
signing keys. Checked over the rendered Kubernetes objects (`kubectl kustomize` of every
service's overlays, the issuer's included) and docker-compose.yml: the key lives in the
Secret `token-issuer` only, and only the issuer's own containers (init containers included)
reference that Secret, by envFrom, a secretKeyRef or a volume."""
from __future__ import annotations

import copy
import functools
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from crm_testing import repo_root

ROOT = repo_root()
K8S = ROOT / "deploy" / "k8s"
ISSUER = "token-issuer"
KEK = "ISSUER_KEY_ENCRYPTION_KEY"
OVERLAYS = ("dev", "production")
WORKLOADS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "Pod")


def service_directories() -> list[str]:
    return sorted(p.name for p in K8S.iterdir() if (p / "base" / "kustomization.yaml").is_file())


@functools.cache
def render(directory: str) -> tuple[dict, ...]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl is not installed (deployment tests never skip)")
    done = subprocess.run([kubectl, "kustomize", str(K8S / directory)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kubectl kustomize {directory}:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def pod_spec(doc: dict) -> dict:
    spec = doc["spec"]
    if doc["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec if doc["kind"] == "Pod" else spec["template"]["spec"]


def readers_of(docs, secret: str) -> list[str]:
    """``<workload>/<container>`` of every container that can read ``secret``, and
    ``<workload>/volume`` for a pod that mounts it."""
    found = []
    for doc in docs:
        if doc["kind"] not in WORKLOADS:
            continue
        spec, name = pod_spec(doc), doc["metadata"]["name"]
        for container in spec.get("initContainers", []) + spec.get("containers", []):
            refs = [s["secretRef"]["name"] for s in container.get("envFrom", []) if "secretRef" in s]
            refs += [e["valueFrom"]["secretKeyRef"]["name"] for e in container.get("env", [])
                     if "secretKeyRef" in e.get("valueFrom", {})]
            names = [e["name"] for e in container.get("env", [])]
            if secret in refs or any(n.startswith(KEK) for n in names):
                found.append(f"{name}/{container['name']}")
        for volume in spec.get("volumes", []):
            sources = [volume.get("secret", {}).get("secretName")]
            sources += [p.get("secret", {}).get("name") for p in volume.get("projected", {}).get("sources", [])]
            if secret in sources:
                found.append(f"{name}/volume")
    return found


@pytest.mark.parametrize("env", OVERLAYS)
def test_the_issuers_overlay_renders_validates_and_keeps_the_key_in_its_own_secret(env):
    docs = render(f"{ISSUER}/overlays/{env}")
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # PodMonitor, PrometheusRule: test_deploy_manifests.py checks their operator's shape
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)
    secrets = [d for d in docs if d["kind"] == "Secret"]
    assert [s["metadata"]["name"] for s in secrets] == [ISSUER]
    data = secrets[0]["stringData"]
    assert KEK in data and len(data[KEK]) < 32, "a placeholder the issuer refuses"
    assert "JWT_SECRET" not in data, "the issuer signs with its own keys; HS256 is refused in production"
    readers = readers_of(docs, ISSUER)
    assert readers and all(r.startswith(f"{ISSUER}/") for r in readers), readers
    [config] = [d for d in docs if d["kind"] == "ConfigMap"]
    assert not any(key.startswith(KEK) for key in config["data"]), "never in a ConfigMap"


@pytest.mark.parametrize("env", OVERLAYS)
def test_no_other_workload_can_read_the_key_encryption_key(env):
    others = [s for s in service_directories() if s != ISSUER]
    assert {"gateway", "customer-service"} <= set(others)
    for service in others:
        docs = render(f"{service}/overlays/{env}")
        assert not readers_of(docs, ISSUER), f"{service} can read the issuer's Secret"
        for secret in (d for d in docs if d["kind"] == "Secret"):
            assert not any(k.startswith(KEK) for k in secret.get("stringData", {})), service


def test_the_check_finds_a_container_that_reads_the_secret():
    """The rule really looks: plant a reference in another service's Deployment."""
    docs = render("sync-worker/overlays/production")
    planted = copy.deepcopy([d for d in docs if d["kind"] == "Deployment"][0])
    pod_spec(planted)["containers"][0]["envFrom"].append({"secretRef": {"name": ISSUER}})
    assert readers_of([planted], ISSUER)
    mounted = copy.deepcopy([d for d in docs if d["kind"] == "Deployment"][0])
    pod_spec(mounted)["volumes"].append({"name": "k", "secret": {"secretName": ISSUER}})
    assert readers_of([mounted], ISSUER) == [f"{mounted['metadata']['name']}/volume"]


def test_compose_gives_the_key_to_the_issuer_alone():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    holders = sorted(name for name, svc in compose["services"].items()
                     if any(k.startswith(KEK) for k in (svc.get("environment") or {})))
    assert holders == [ISSUER, f"{ISSUER}-migrate"]
    for name, svc in compose["services"].items():
        env = svc.get("environment") or {}
        if name not in holders and "build" in svc:
            assert env.get("ISSUER_SERVICE_URL") == "http://token-issuer:8006", f"{name} cannot verify issuer tokens"
        for volume in svc.get("volumes", []):
            assert "kek" not in str(volume).lower(), name
