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
version=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' \
    "$name/pyproject.toml")
exec docker build -f "deploy/docker/$name.Dockerfile" -t "${REGISTRY:-}crm/$name:$version" "$@" .
