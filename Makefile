# Two commands for a newcomer: `make run` and `make test` (README, quick start).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: install migrate seed run test openapi lint clean

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

clean:
	rm -rf $(VENV) var
