# The two commands (CONTRACT §2): `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
PYTHON ?= python3
PACKAGES := libs/crm_common libs/crm_testing customer-service viewing-service analytics-service sync-worker webhook-service gateway token-issuer
PYPROJECTS := $(foreach p,$(PACKAGES),$(wildcard $(p)/pyproject.toml))
ROLE ?= admin
FACTORY ?= F001
DOMAIN ?= *

.PHONY: install release event-schemas lock lint fuzz soak run browser services init check-connections test test-fast token bench bench-analytics bench-analyses bench-bulk bench-sync bench-customers bench-dashboard bench-webhooks vendor-echarts clean help

help:
	@echo "make run     start the whole set (gateway on http://localhost:8080)"
	@echo "make test    install, make sure PostgreSQL/RabbitMQ/Redis are up, run every test"
	@echo "make token ROLE=admin FACTORY=F001   print a signed JWT"
	@echo "make bench   run the benchmarks"
	@echo "make release SERVICE=customer-service VERSION=1.2.0   bump, changelog, image tags, commit, tag"
	@echo "make soak    the whole set under a seeded fault schedule, then a checker (SOAK_SECONDS, SOAK_SEED, ...)"
	@echo "make init    migrate every service's database, then make check-connections"
	@echo "make check-connections   PostgreSQL, Redis, RabbitMQ and the external MySQL reachable?"

# Third-party packages come only from requirements.lock (pinned, hashes checked); the
# repository's own packages are installed editable on top, without resolving anything.
$(VENV)/.installed: $(PYPROJECTS) requirements-dev.txt requirements.lock
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (PYTHON=python3.12 make ...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --require-hashes --no-deps -r requirements.lock
	$(BIN)/pip install -q --no-deps $(foreach p,$(PACKAGES),$(if $(wildcard $(p)/pyproject.toml),-e $(p)))
	$(BIN)/pip check
	touch $@

# Re-resolve the lock files after a pyproject.toml or requirements-dev.txt change
# (UPGRADE=1 moves every pin to the newest allowed release).
lock: install
	scripts/lock.sh

install: $(VENV)/.installed

# One service (or crm-common) on its own: bumps its __version__, writes <service>/CHANGELOG.md
# from the commits that touched it since its last tag, stamps the image tags, commits and tags
# <service>-v<VERSION> (scripts/release.py; DRY_RUN=1 only prints). Nothing is pushed.
# The JSON Schema of every event type, from each producer's declarations, into
# <producer>/contracts/events/ (committed; tests/test_event_contracts.py fails when stale).
event-schemas: install
	$(BIN)/python scripts/event_schemas.py

release:
	@test -n "$(SERVICE)" -a -n "$(VERSION)" || { echo "usage: make release SERVICE=customer-service VERSION=1.2.0"; exit 2; }
	$(PYTHON) scripts/release.py $(SERVICE) $(VERSION) $(if $(DRY_RUN),--dry-run)

run: install
	@mkdir -p var
	PATH="$(BIN):$$PATH" CRM_HOME="$(CURDIR)" $(BIN)/honcho -f Procfile start

services:
	@scripts/ensure-services.sh

# Seed 003: every store the set needs (each service's database, Redis, RabbitMQ and, when
# EXTERNAL_MYSQL_URL is set, the third party's MySQL), one line each with the time it took;
# exits non-zero when a required one fails.
check-connections: install
	$(BIN)/python scripts/check_connections.py

# Migrate every service's database (its *_DATABASE_URL, else SQLite under var/), then check
# the connections.
MIGRATING := customer-service viewing-service analytics-service sync-worker webhook-service token-issuer
init: install
	@for cli in $(MIGRATING); do echo "$$cli migrate"; CRM_HOME="$(CURDIR)" $(BIN)/$$cli migrate || exit 1; done
	$(BIN)/python scripts/check_connections.py

# Debian's Chromium (and a CJK font for screenshots) for the browser tests, installed when missing.
browser:
	@scripts/ensure-browser.sh

test: install lint services browser
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .

# Only what needs no running service (no PostgreSQL, RabbitMQ or Redis): the unit tests.
UNIT_TESTS = $(wildcard libs/*/tests/unit */tests/unit gateway/tests/unit)
test-fast: install
	@echo "make test-fast: unit tests only, no PostgreSQL/RabbitMQ/Redis needed (make test runs everything)"
	$(BIN)/pytest $(UNIT_TESTS) $(PYTEST_ARGS)

token: install
	@$(BIN)/crm-token $(foreach r,$(ROLE),--role $(r)) $(foreach f,$(FACTORY),--factory $(f)) $(foreach d,$(DOMAIN),--domain '$(d)')

# The whole set on PostgreSQL and RabbitMQ against same-run baselines (bench/README.md).
bench: install services
	@bench/ensure-nginx.sh
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-analytics: install services
	$(BIN)/python bench/analytics_at_size.py $(BENCH_ARGS)

# RFM segments and rating scores over one tenant of 100,000 customers.
bench-analyses: install services
	$(BIN)/python bench/analyses_at_size.py $(BENCH_ARGS)

# Seed 000 bulk-create throughput beside a raw PostgreSQL insert of the same rows.
bench-bulk: install services
	$(BIN)/python bench/bulk_create.py $(BENCH_ARGS)

# Customer update -> project visible through relay, RabbitMQ and the sync consumer (issue 3).
bench-sync: install services
	$(BIN)/python bench/sync_propagation.py $(BENCH_ARGS)

# The tenant customer API (seed 001) with 100,000 customers: list/search/detail p50/p95,
# export wall time and worker memory (issue 4).
bench-customers: install services
	$(BIN)/python bench/customers_at_size.py $(BENCH_ARGS)

# The dashboard's page in headless Chromium over a tenant of 100,000 customers: time to
# interactive and each data call's latency (bench/dashboard.py).
bench-dashboard: install services browser
	$(BIN)/python bench/dashboard.py $(BENCH_ARGS)

# Re-vendor the dashboard's chart library from the npm registry (ECHARTS_VERSION=x.y.z to move).
vendor-echarts:
	scripts/vendor-echarts.sh $(ECHARTS_VERSION)

# Event committed -> webhook received p50/p95/p99 at a steady rate, and deliveries per
# second to a fast receiver (issue 16).
bench-webhooks: install services
	$(BIN)/python bench/webhooks.py $(BENCH_ARGS)

clean:
	rm -rf var .pytest_cache

# schemathesis against every service's OpenAPI document on a stack of its own
# (FUZZ_EXAMPLES per operation, default 100; reports in var/fuzz/<service>/).
fuzz: install services
	$(BIN)/python scripts/fuzz.py --examples $${FUZZ_EXAMPLES:-100} $(FUZZ_ARGS)

# The whole set on a private PostgreSQL and RabbitMQ (the shared ones are never touched) under
# a seeded fault schedule, then a checker that prints one table (issue 20; README "Soak").
# Knobs: SOAK_SECONDS (180), SOAK_SEED (20), SOAK_BROKER_RESTARTS, SOAK_PG_RESTARTS,
# SOAK_KILLS, SOAK_PAUSES, SOAK_NET_FAULTS, SOAK_WRITERS, SOAK_SETTLE_TIMEOUT, SOAK_POISON.
soak: install services
	$(BIN)/python scripts/soak.py
