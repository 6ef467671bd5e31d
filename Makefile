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
CONSOLE_STAMP := console/node_modules/.installed
CONSOLE_BUILD := console/dist/index.html

PYTEST_FLAGS ?= -q

.PHONY: help deps dev chat demo test lint format typecheck unit integration bench events decisions clean console console-test

help:
	@echo "make dev          start the local stack with the demo tenant (Ctrl-C stops it)"
	@echo "                  CLOCK_SPEED=1440 makes a 1-day follow-up come after a minute"
	@echo "make chat         write to the demo clinic as a lead (CHANNEL=meta|twilio|evolution|zapi)"
	@echo "make demo         play a scripted clinic conversation through the whole local loop"
	@echo "make test         install what is missing, then lint, type-check, unit + integration tests"
	@echo "make bench        webhook vs the bare function floor, engine cost, end-to-end latency,"
	@echo "                  knowledge retrieval recall@3 (offline; Vertex AI when configured),"
	@echo "                  insight agents: run time, Firestore calls, throttle contention, prompt size,"
	@echo "                  billing checks, slot offers and holds under contention, webhook deliveries"
	@echo "make lint         ruff check + ruff format --check + mypy"
	@echo "make console      build the admin console (console/dist, served by Firebase Hosting)"
	@echo "make console-test type-check the console and run its unit tests (vitest)"
	@echo "make format       apply ruff fixes and formatting"
	@echo "make events       print what the local webhook published (with make dev running)"
	@echo "make decisions CONTACT=+55...  the demo tenant's latest decisions with a contact, and why"
	@echo "make terraform-check  terraform fmt + checkov + the Terraform wiring tests (part of make test)"
	@echo "make deploy ENV=dev TF_STATE_BUCKET=...  terraform apply, then build and deploy with Cloud Build"

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

$(CONSOLE_STAMP): console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE_BUILD): $(CONSOLE_STAMP) $(shell find console/src -type f) console/index.html console/vite.config.ts console/tsconfig.json
	cd console && npm run build

console: $(CONSOLE_BUILD)

console-test: $(CONSOLE_STAMP)
	cd console && npm run typecheck && npm test

deps: $(PY_STAMP) $(TASKS_STAMP) $(NODE_STAMP) $(CONSOLE_STAMP)

dev: deps $(CONSOLE_BUILD)
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

# Debian's Chromium for the console's browser tests (playwright-core drives it; no browser download)
CHROMIUM ?= /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && apt-get install -y -qq chromium >/dev/null

test: deps lint console-test $(CONSOLE_BUILD) $(CHROMIUM)
	$(BIN)/pytest $(PYTEST_FLAGS) tests

bench: deps
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m tests.bench.webhook
	$(BIN)/python -m tests.bench.engine
	$(BIN)/python -m tests.bench.e2e
	$(BIN)/python -m tests.bench.knowledge
	$(BIN)/python -m tests.bench.insights
	$(BIN)/python -m tests.bench.billing
	$(BIN)/python -m tests.bench.scheduling

clean:
	rm -rf $(VENV) $(TASKS_VENV) $(NODE_DIR)/node_modules console/node_modules console/dist .piloto .pytest_cache .mypy_cache .ruff_cache

# Print (and acknowledge) the events the local webhook published, from the dev stack's tap.
events: $(PY_STAMP)
	@set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; \
	PUBSUB_EMULATOR_HOST=127.0.0.1:$$PILOTO_DEV_PUBSUB_PORT $(BIN)/piloto events pull

# Print the latest decisions with a contact of the demo tenant, and why: make decisions CONTACT=+5511987654321
decisions: $(PY_STAMP)
	@set -a; . ./.env.example; if [ -f .env ]; then . ./.env; fi; set +a; \
	FIRESTORE_EMULATOR_HOST=127.0.0.1:$$PILOTO_DEV_FIRESTORE_PORT $(BIN)/piloto decisions demo-clinica $(CONTACT)

# Terraform. terraform-check (part of make test): terraform fmt, checkov (in its own environment,
# .venv-checkov/; skips and their reasons in terraform/.checkov.yaml) and the tests that hold the
# HCL against the code. deploy: terraform apply for one environment, then Cloud Build builds,
# pushes and deploys (README: Deploy): make deploy ENV=dev TF_STATE_BUCKET=<bucket>
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
CHECKOV := $(CHECKOV_VENV)/bin/checkov --config-file terraform/.checkov.yaml
# ENV only from the command line: the shell's own ENV variable means something else.
DEPLOY_ENV := $(if $(filter command line,$(origin ENV)),$(ENV),dev)
TF_DIR := terraform/environments/$(DEPLOY_ENV)

.PHONY: terraform-check deploy clean-terraform

$(CHECKOV_STAMP): terraform/requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet -r terraform/requirements-checkov.txt
	@touch $@

terraform-check: $(CHECKOV_STAMP) $(PY_STAMP)
	@command -v terraform >/dev/null || { echo "terraform-check: terraform is not installed (Terraform >= 1.6 is needed)" >&2; exit 1; }
	terraform fmt -check -recursive -diff terraform
	$(CHECKOV) --directory terraform
	$(CHECKOV) --file Dockerfile
	$(BIN)/pytest $(PYTEST_FLAGS) tests/terraform

test: terraform-check

deploy:
	@command -v terraform >/dev/null || { echo "deploy: terraform is not installed (Terraform >= 1.6 is needed)" >&2; exit 1; }
	@command -v gcloud >/dev/null || { echo "deploy: the Google Cloud CLI (gcloud) is not installed" >&2; exit 1; }
	@test -d $(TF_DIR) || { echo "deploy: no environment $(DEPLOY_ENV) in terraform/environments/" >&2; exit 1; }
	@test -n "$(TF_STATE_BUCKET)" || { echo "deploy: set TF_STATE_BUCKET to the bucket that holds the Terraform state (README: Deploy)" >&2; exit 1; }
	@test -f $(TF_DIR)/terraform.tfvars || { echo "deploy: copy $(TF_DIR)/terraform.tfvars.example to terraform.tfvars and fill it in" >&2; exit 1; }
	terraform -chdir=$(TF_DIR) init -input=false -backend-config="bucket=$(TF_STATE_BUCKET)"
	terraform -chdir=$(TF_DIR) apply -input=false
	@output() { terraform -chdir=$(TF_DIR) output -raw "$$1"; }; \
	project="$$(output project_id)"; \
	set -x; gcloud builds submit --project="$$project" --config=cloudbuild.yaml \
	  --service-account="projects/$$project/serviceAccounts/$$(output deployer_service_account)" \
	  --gcs-source-staging-dir="gs://$$(output builds_bucket)/source" \
	  --substitutions="_REGION=$$(output region),_HOSTING_SITE=$$(output hosting_site_id)" .

clean: clean-terraform

clean-terraform:
	rm -rf $(CHECKOV_VENV)
