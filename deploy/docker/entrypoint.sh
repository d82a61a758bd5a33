#!/bin/sh
# Entrypoint of every CRM image. Gives the process an empty Prometheus multiprocess
# directory (stale files of an earlier run would add dead workers' counts to /metrics) and
# no stale heartbeat, then replaces itself with the command: the image's CMD
# (`<service> serve --migrate`) or the one compose / Kubernetes gives
# (`<service> migrate | serve | relay | consume`, `webhook-service deliver`).
set -eu
if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
    rm -rf "${PROMETHEUS_MULTIPROC_DIR:?}"
    mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
# A worker's heartbeat (relay, consumer, delivery worker) left by this container's previous run
# (/tmp outlives a restart in Kubernetes) would make a process that hangs before its first turn
# look alive.
if [ -n "${HEARTBEAT_FILE:-}" ]; then
    rm -f "$HEARTBEAT_FILE"
fi
exec "$@"
