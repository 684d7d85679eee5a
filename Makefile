# The two commands: `make run` (local stack on moto) and `make test` (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint fmt token job clean-venv

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## make run: moto on 127.0.0.1:5000, every resource, demo data, chalice local on 127.0.0.1:8000
run: $(STAMP)
	$(BIN)/python -m infra.local.stack

## make test: lint, format check, then every test (unit, integration on in-process moto, e2e)
test: $(STAMP) lint
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make token USER=alice@example.com: an ID token from the running local stack's Cognito
token: $(STAMP)
	@$(BIN)/python -m infra.local.token "$(USER)"

## make job JOB=storage_sweep NOW=2026-12-01T00:00:00Z: one scheduled handler, once, at NOW
job: $(STAMP)
	$(BIN)/python -m infra.local.job "$(JOB)" "$(NOW)"

clean-venv:
	rm -rf $(VENV)
