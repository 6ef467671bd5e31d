# Piloto: the two commands are `make dev` (local stack with the demo tenant) and `make test`.
# Every dependency is installed here, so both work on a fresh clone of a fresh machine.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TASKS_VENV := .venv-tasks
NODE_DIR := emulators

PY_STAMP := $(VENV)/.installed
TASKS_STAMP := $(TASKS_VENV)/.installed
NODE_STAMP := $(NODE_DIR)/node_modules/.installed

PYTEST_FLAGS ?= -q

.PHONY: help deps dev chat demo test lint format typecheck unit integration bench events decisions clean

help:
	@echo "make dev          start the local stack with the demo tenant (Ctrl-C stops it)"
	@echo "                  CLOCK_SPEED=1440 makes a 1-day follow-up come after a minute"
	@echo "make chat         write to the demo clinic as a lead (CHANNEL=meta|twilio|evolution|zapi)"
	@echo "make demo         play a scripted clinic conversation through the whole local loop"
	@echo "make test         install what is missing, then lint, type-check, unit + integration tests"
	@echo "make bench        webhook vs the bare function floor, engine cost, end-to-end latency"
	@echo "make lint         ruff check + ruff format --check + mypy"
	@echo "make format       apply ruff fixes and formatting"
	@echo "make events       print what the local webhook published (with make dev running)"
	@echo "make decisions CONTACT=+55...  the demo tenant's latest decisions with a contact, and why"

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(PY_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

$(TASKS_STAMP): emulators/requirements-tasks.txt
	$(PYTHON) -m venv $(TASKS_VENV)
	$(TASKS_VENV)/bin/python -m pip install --quiet -r emulators/requirements-tasks.txt
	@touch $@

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

deps: $(PY_STAMP) $(TASKS_STAMP) $(NODE_STAMP)

dev: deps
	$(BIN)/python -m emulators.dev $(if $(CLOCK_SPEED),--clock-speed $(CLOCK_SPEED))

CHANNEL ?= meta
chat: $(PY_STAMP)
	@set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; \
	FIRESTORE_EMULATOR_HOST=127.0.0.1:$$PILOTO_DEV_FIRESTORE_PORT $(BIN)/piloto chat --channel $(CHANNEL)

demo: deps
	$(BIN)/python -m emulators.demo

lint: $(PY_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

typecheck: $(PY_STAMP)
	$(BIN)/mypy

format: $(PY_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

unit: $(PY_STAMP)
	$(BIN)/pytest $(PYTEST_FLAGS) tests/unit tests/functions

integration: deps
	$(BIN)/pytest $(PYTEST_FLAGS) tests/integration

test: deps lint
	$(BIN)/pytest $(PYTEST_FLAGS) tests

bench: deps
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m tests.bench.webhook
	$(BIN)/python -m tests.bench.engine
	$(BIN)/python -m tests.bench.e2e

clean:
	rm -rf $(VENV) $(TASKS_VENV) $(NODE_DIR)/node_modules .piloto .pytest_cache .mypy_cache .ruff_cache

# Print (and acknowledge) the events the local webhook published, from the dev stack's tap.
events: $(PY_STAMP)
	@set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; \
	PUBSUB_EMULATOR_HOST=127.0.0.1:$$PILOTO_DEV_PUBSUB_PORT $(BIN)/piloto events pull

# Print the latest decisions with a contact of the demo tenant, and why: make decisions CONTACT=+5511987654321
decisions: $(PY_STAMP)
	@set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; \
	FIRESTORE_EMULATOR_HOST=127.0.0.1:$$PILOTO_DEV_FIRESTORE_PORT $(BIN)/piloto decisions demo-clinica $(CONTACT)
