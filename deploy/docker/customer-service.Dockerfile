# syntax=docker/dockerfile:1
# customer-service: customers, companies, groups, credit, imports.
# One image runs every process of the service:
# `customer-service serve` (HTTP), `customer-service relay` (outbox -> RabbitMQ) and
# `customer-service consume` (queue customer-service.viewing-stats).
# Build from the repository root, so that the shared library is in the context, and tag by the
# package's version (crm/customer-service:<[project] version of customer-service/pyproject.toml>):
#   deploy/docker/build.sh customer-service
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: a virtualenv with the locked dependencies, then the shared library and the service
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY libs/crm_common libs/crm_common
COPY customer-service customer-service
# Third-party packages only from the package's own lock: exact versions, hashes checked, nothing
# resolved (--no-deps); then the repository's own two packages, which add no dependency.
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --require-hashes --no-deps -r customer-service/requirements.lock \
    && /opt/venv/bin/pip install --no-deps ./libs/crm_common ./customer-service \
    && /opt/venv/bin/pip check

# --- runtime: that virtualenv, the start-up scripts, a non-root user ---------------------
FROM ${PYTHON_IMAGE} AS runtime
# The commit the image was built from (deploy/docker/build.sh passes it); /healthz reports it.
ARG GIT_COMMIT=unknown
# No secrets here: JWT_SECRET, the database URL, AMQP_URL and REDIS_URL come from the
# environment at run time (compose env, Kubernetes Secret).
ENV PATH=/opt/venv/bin:$PATH \
    GIT_COMMIT=${GIT_COMMIT} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8001 \
    WEB_CONCURRENCY=2 \
    GUNICORN_THREADS=4 \
    GUNICORN_TIMEOUT=60 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus \
    METRICS_PORT=9100
RUN groupadd --system --gid 10001 crm \
    && useradd --system --uid 10001 --gid crm --no-create-home --home-dir /app --shell /usr/sbin/nologin crm
COPY --from=builder /opt/venv /opt/venv
COPY --chmod=0755 deploy/docker/entrypoint.sh /usr/local/bin/crm-entrypoint
COPY --chmod=0755 deploy/docker/healthcheck.py /usr/local/bin/crm-healthcheck
# alembic.ini and migrations/ are package data of the service's wheel (found through importlib.resources):
# nothing to copy beside it.
WORKDIR /app
USER 10001:10001
EXPOSE 8001
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "/usr/local/bin/crm-healthcheck"]
ENTRYPOINT ["crm-entrypoint"]
# Migrations, then gunicorn (crm_common.gunicorn_conf: PORT, WEB_CONCURRENCY,
# GUNICORN_THREADS, GUNICORN_TIMEOUT). Relays and consumers: another command, same image.
CMD ["customer-service", "serve", "--migrate"]
