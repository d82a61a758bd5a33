#!/usr/bin/env bash
# `make lock`: resolve every dependency once and pin it with hashes.
#   requirements.lock            the whole repository + development tools (make run/test, CI)
#   <package>/requirements.lock  one deployable package + the shared library (its image),
#                                constrained to the versions of the root lock so that every
#                                image runs exactly what the tests ran.
# UPGRADE=1 make lock moves every pin to the newest release allowed by the pyproject ranges;
# without it, pins already in the lock are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=${UV:-.venv/bin/uv}
OWN=(crm-common crm-testing customer-service viewing-service analytics-service sync-worker crm-gateway webhook-service token-issuer)
no_emit=(); for p in "${OWN[@]}"; do no_emit+=(--no-emit-package "$p"); done
upgrade=(); [ "${UPGRADE:-0}" = 1 ] && upgrade=(--upgrade)
common=(--generate-hashes --python-version 3.11 --quiet "${no_emit[@]}" "${upgrade[@]}")

"$UV" pip compile requirements.in "${common[@]}" -o requirements.lock --custom-compile-command "make lock"

for dir in customer-service viewing-service analytics-service sync-worker gateway webhook-service token-issuer; do
  [ -f "$dir/pyproject.toml" ] || continue
  printf -- '-e ./libs/crm_common\n-e ./%s\n' "$dir" > "/tmp/crm-lock-$dir.in"
  "$UV" pip compile "/tmp/crm-lock-$dir.in" "${common[@]}" -c requirements.lock -o "$dir/requirements.lock" \
    --custom-compile-command "make lock"
  rm -f "/tmp/crm-lock-$dir.in"
done
echo "locked: requirements.lock and each package's requirements.lock"
