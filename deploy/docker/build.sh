#!/bin/sh
# Build one image, tagged by its package's version (never :latest):
#   deploy/docker/build.sh customer-service [extra docker build args]   -> crm/customer-service:0.1.0
# REGISTRY=registry.example.com/ prefixes the name. The Kubernetes bases pin the same tag
# (deploy/k8s/<service>/base/kustomization.yaml, images: newTag) and docker-compose.yml the same
# image name; tests keep the three equal.
set -eu
cd "$(dirname "$0")/../.."
name=${1:?usage: deploy/docker/build.sh <gateway|customer-service|viewing-service|analytics-service|sync-worker|webhook-service|token-issuer>}
shift
# The version's one place is the package's __version__ (pyproject.toml reads it: dynamic version).
version=$(PYTHONPATH=libs/crm_common python3 -c 'import sys; from crm_common.release import project_version; print(project_version(sys.argv[1]))' "$name")
# The commit goes into the image (GIT_COMMIT): /healthz reports it beside the version.
commit=${GIT_COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
exec docker build -f "deploy/docker/$name.Dockerfile" --build-arg "GIT_COMMIT=$commit" \
    -t "${REGISTRY:-}crm/$name:$version" "$@" .
