# Two commands for a newcomer: `make run` and `make test` (README, quick start).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000
# R-ELIG-8 demo: the service's clock starts inside the 2021 window on a new database (README,
# "The service's clock"); `make run CLOCK_START=` for real time.
CLOCK_START ?= 2021-03-01T09:00:00+01:00

.PHONY: install migrate seed run test openapi lint mutation clean bench bench-quick

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ requis"'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python -m app migrate

seed: migrate
	$(BIN)/python -m app seed

run: export GUICHET_CLOCK_START = $(CLOCK_START)
# Keep-alive, connection limit and server header come from the settings (GUICHET_SERVER_*,
# README, configuration): `python -m app serve` builds uvicorn's configuration from them.
run: seed
	$(BIN)/python -m app serve --host $(HOST) --port $(PORT)

test: install
	$(BIN)/python -m pytest

openapi: install
	$(BIN)/python -m app openapi

lint: install
	$(BIN)/ruff check app tests alembic scripts bench
	$(BIN)/ruff format --check app tests alembic scripts bench
	$(BIN)/mypy app

# Mutation testing of the pure rules (app/*/rules.py) against tests/unit only ([tool.mutmut] in
# pyproject.toml); prints the surviving mutants. Not part of .ci/run.
mutation: install
	rm -rf mutants
	-$(BIN)/mutmut run --max-children 2
	@$(BIN)/mutmut results | grep -E ': (survived|no tests)' || echo "no surviving mutant"

# Issue 13 (BENCHMARKS.md): the service against its floor on PostgreSQL, 200,000 dossiers and
# 1,000,000 movements (generated once, then restored from var/bench/*.dump). Needs wrk:
#   sudo apt-get install wrk        (Debian package)
# BENCH_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/guichet_bench_200000 by default.
BENCH_ARGS ?=
bench: install
	@command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py $(BENCH_ARGS)

bench-quick: install
	@command -v wrk >/dev/null || { echo "wrk is missing: sudo apt-get install wrk"; exit 1; }
	$(BIN)/python bench/run.py --quick --skip-two-workers $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var mutants
