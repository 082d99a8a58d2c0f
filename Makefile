# Two commands for a newcomer: `make run` and `make test` (README, quick start).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEV_STAMP := $(VENV)/.installed-dev-stamp
# R-ELIG-8 demo: a new database's clock starts the day FITN7's window opens; the demo story
# (app/demo) replays 2021-2022 and early 2026 from there and moves the clock on to its end,
# 2026-03-16 09:00 (README, "The service's clock"); `make run CLOCK_START=` for real time.
CLOCK_START ?= 2021-01-25T09:00:00+01:00

.PHONY: install install-dev migrate seed demo run test openapi lint mutation clean oidc assets lock frontend-check bench bench-quick bench-uploads

# Issue 27: `make run` installs what the service needs, nothing more (the test, lint and bench
# tools are a second step of their own: `make run` on a fresh clone serves within a minute).
# The venv's pip fetches uv, which resolves and installs the rest (measured on a fresh venv and
# an empty cache: 10 s against pip's 29 s, pip's upgrade included); where uv cannot be had, or
# where only pip's configuration knows the package index, pip installs it all (PIP_ONLY=1 forces
# it). PYTHONWARNINGS=ignore reaches the build backend: setuptools' notice that an install is
# editable is not the newcomer's concern.
PIP_ONLY ?=
define pip_install
	if [ -z "$(PIP_ONLY)" ] && $(BIN)/python -m pip install --quiet --disable-pip-version-check 'uv>=0.5' 2>/dev/null; then \
	  PYTHONWARNINGS=ignore $(BIN)/uv pip install --quiet --python $(BIN)/python $(1) \
	  || PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet $(1); \
	else \
	  PYTHONWARNINGS=ignore $(BIN)/python -m pip install --quiet $(1); \
	fi
endef

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ requis"'
	$(PYTHON) -m venv $(VENV)
	@$(call pip_install,-e .)
	@touch $(STAMP)

$(DEV_STAMP): $(STAMP)
	@$(call pip_install,-e '.[dev]')
	@touch $(DEV_STAMP)

install: $(STAMP)

install-dev: $(DEV_STAMP)

migrate: install
	$(BIN)/python -m app migrate

seed: migrate
	$(BIN)/python -m app seed

# The demonstration data set (app/demo.py) on an empty database; GUICHET_DEMO_DATA=false
# leaves it empty. Refused in production.
demo: export GUICHET_CLOCK_START = $(CLOCK_START)
demo: seed
	$(BIN)/python -m app demo --if-empty

run: export GUICHET_CLOCK_START = $(CLOCK_START)
# Address, port, keep-alive, connection limit and server header come from the settings
# (GUICHET_SERVER_HOST, GUICHET_SERVER_PORT…, README, configuration): `python -m app serve`
# builds uvicorn's configuration from them, so `GUICHET_SERVER_PORT=8080 make run` is the knob.
run: demo
	$(BIN)/python -m app serve

# R-AUTH-2 tests run panva's oidc-provider with the machine's Node.js, at the version pinned
# in tests/oidc/package-lock.json (npm ci: exactly the locked tree).
OIDC_STAMP := tests/oidc/node_modules/.package-lock.json
$(OIDC_STAMP): tests/oidc/package-lock.json
	cd tests/oidc && npm ci --no-audit --no-fund

oidc: $(OIDC_STAMP)

test: install-dev $(OIDC_STAMP)
	$(BIN)/python -m pytest

openapi: install
	$(BIN)/python -m app openapi

lint: install-dev
	$(BIN)/ruff check app tests alembic scripts bench
	$(BIN)/ruff format --check app tests alembic scripts bench
	$(BIN)/mypy app

# Mutation testing of the pure rules (app/*/rules.py) against tests/unit only ([tool.mutmut] in
# pyproject.toml). Not part of .ci/run. A mutmut that cannot test (failing clean run, nothing
# collected) stops the target; scripts/mutation_report.py then prints the counts per module and
# each mutant not killed, and fails when mutants were left unchecked.
MUTATION_CHILDREN ?= 2
mutation: install-dev
	rm -rf mutants
	$(BIN)/mutmut run --max-children $(MUTATION_CHILDREN)
	$(BIN)/python scripts/mutation_report.py

# /tableau-de-bord/'s static files (DSFR without its fonts) and the tests' axe-core, rebuilt from
# the exact versions of frontend/package-lock.json; the built files are committed, so `make run`
# needs no Node.js.
assets:
	cd frontend && npm ci --ignore-scripts --no-audit --no-fund && node build.mjs

# tests/frontend: npm ci (exact versions, package-lock.json), types generated from the contract,
# an example client compiled with tsc --noEmit (Node.js of the machine; not needed by `make run`).
# requirements.lock: every dependency of pyproject.toml pinned with its hashes, for the
# Dockerfile's non-editable install (pyproject keeps the ranges). Regenerate after a change.
lock: install-dev
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 -o requirements.lock

frontend-check:
	cd tests/frontend && npm ci --no-audit --no-fund && npm run check

# Issue 13 (BENCHMARKS.md): the service against its floor on PostgreSQL, 200,000 dossiers and
# 1,000,000 movements (generated once, then restored from var/bench/*.dump). Needs wrk:
#   sudo apt-get install wrk        (Debian package)
# BENCH_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/guichet_bench_200000 by default.
BENCH_ARGS ?=
bench: install-dev
	@command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: install-dev
	@command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py --quick --skip-two-workers $(BENCH_ARGS)

# Issue 24: 20 concurrent 10 MB (then 1 MB) document uploads, the server's peak RSS and MB/s
# (BENCHMARKS.md, "Document uploads"). SQLite unless GUICHET_DATABASE_URL says otherwise.
bench-uploads: install-dev
	$(BIN)/python bench/bench_uploads.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var mutants
