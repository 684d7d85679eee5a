# The commands: `make run` (local stack on moto), `make check` (the everyday loop, ~20 s) and `make test`
# (the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run check test lint fmt token user job topup clean-venv package demo bench-load browser contract-tools \
	console-tools console-check

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check 'pip<26.3'
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

## the browser tests drive Debian's Chromium (Playwright's own browser download is not used): installed
## once when missing (as root, or through sudo)
CHROMIUM := /usr/bin/chromium
CHROMIUM_STAMP := $(VENV)/.chromium
$(CHROMIUM_STAMP): $(STAMP)
	@test -x $(CHROMIUM) || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }
	@test -x $(CHROMIUM)
	touch $(CHROMIUM_STAMP)

browser: $(CHROMIUM_STAMP)

## the contract tests' Node tool (openapi-typescript, pinned in tools/openapi-typescript/package-lock.json):
## `npm ci` when missing or when the lock file changes
TS_TOOLS := tools/openapi-typescript
TS_STAMP := $(TS_TOOLS)/node_modules/.installed
$(TS_STAMP): $(TS_TOOLS)/package.json $(TS_TOOLS)/package-lock.json
	cd $(TS_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(TS_STAMP)

contract-tools: $(TS_STAMP)

## the staff console's checkers (ESLint, TypeScript; pinned in tools/console-check/package-lock.json): `npm ci`
## when missing or when the lock file changes
CONSOLE_TOOLS := tools/console-check
CONSOLE_STAMP := $(CONSOLE_TOOLS)/node_modules/.installed
$(CONSOLE_STAMP): $(CONSOLE_TOOLS)/package.json $(CONSOLE_TOOLS)/package-lock.json
	cd $(CONSOLE_TOOLS) && npm ci --no-audit --no-fund --loglevel=error
	touch $(CONSOLE_STAMP)

console-tools: $(CONSOLE_STAMP)

## make console-check: ESLint, then `tsc --checkJs` over console/js (every file `// @ts-check`, no build step)
## against the types openapi-typescript generates from docs/openapi.json; tests/integration/test_console_js.py
## runs the same checks in `make test`
console-check: $(CONSOLE_STAMP) $(TS_STAMP)
	$(TS_TOOLS)/node_modules/.bin/openapi-typescript docs/openapi.json --output $(CONSOLE_TOOLS)/generated/api.d.ts
	$(CONSOLE_TOOLS)/node_modules/.bin/eslint -c $(CONSOLE_TOOLS)/eslint.config.mjs console/js
	$(CONSOLE_TOOLS)/node_modules/.bin/tsc -p $(CONSOLE_TOOLS)/tsconfig.json

## make run: moto on 127.0.0.1:5000, every resource, demo data, the API (the Chalice app under waitress)
## on 127.0.0.1:8000, the staff console on 127.0.0.1:8080
run: $(STAMP)
	$(BIN)/python -m infra.local.stack

## make check: the everyday loop: lint, the unit tier (no moto, no app) and the service tier (the core
## services' integration tests on one provisioned in-process moto, reset between tests)
SERVICE_TIER := tests/integration/test_wallet.py tests/integration/test_orders.py \
	tests/integration/test_lost_races.py
check: $(STAMP) lint
	$(BIN)/python -m pytest -q tests/unit $(SERVICE_TIER)

## make test: lint, format check, then every test (unit, integration on in-process moto, e2e, browser, the
## console's ESLint and type check) on WORKERS xdist workers (one moto each); the e2e and browser tiers
## share one local stack on fixed ports, so one worker runs them all (tests/conftest.py xdist_group).
## `pytest -m "not e2e and not browser and not schemathesis"` leaves the slow tiers out.
WORKERS ?= auto
test: $(STAMP) $(CHROMIUM_STAMP) $(TS_STAMP) $(CONSOLE_STAMP) lint
	$(BIN)/python -m pytest -q -n $(WORKERS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## make demo: the whole journey over HTTP against the running `make run`, step by step (rerunnable)
demo: $(STAMP)
	$(BIN)/python -m infra.local.demo

## make token USER=alice@example.com: an ID token from the running local stack's Cognito
token: $(STAMP)
	@$(BIN)/python -m infra.local.token "$(USER)"

## make user USER=someone@example.com [PASSWORD=...]: a confirmed customer on the running local stack
user: $(STAMP)
	@$(BIN)/python -m infra.local.user "$(USER)" "$(PASSWORD)"

## make job JOB=storage_sweep NOW=2026-12-01T00:00:00Z: one scheduled handler, once, at NOW
job: $(STAMP)
	$(BIN)/python -m infra.local.job "$(JOB)" "$(NOW)"

## make topup USER=alice@example.com AMOUNT_FEN=50000 [CHANNEL=paypal]: a signed provider webhook tops up
## (in Stripe's format; CHANNEL=paypal: approved at the local PayPal, settled by its own webhooks)
topup: $(STAMP)
	$(BIN)/python -m infra.local.topup "$(USER)" "$(AMOUNT_FEN)" "$(CHANNEL)"

clean-venv:
	rm -rf $(VENV)

## make package: out/ = the function zip, the dependency layer zip + CloudFormation (SAM) template of
## PACKAGE_STAGE (default prod):
## infra/template.py writes the merge template (tables, bucket, queues, Cognito, SES, function wiring),
## `chalice package` merges it into its own. Offline except for the package registry. See docs/deploy.md.
PACKAGE_STAGE ?= prod
package: $(STAMP)
	rm -rf out
	find chalicelib -name __pycache__ -prune -exec rm -rf {} +   # chalice zips every file of chalicelib/
	mkdir -p out
	$(BIN)/python -m infra.template --stage $(PACKAGE_STAGE) --output out/infra-$(PACKAGE_STAGE).json
	AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-ap-southeast-1} $(BIN)/chalice package --stage $(PACKAGE_STAGE) \
		--merge-template out/infra-$(PACKAGE_STAGE).json out
	$(BIN)/python -m infra.template --stage $(PACKAGE_STAGE) --finalize out/sam.json   # preflights: mocks only
	$(BIN)/python -m infra.template --stage $(PACKAGE_STAGE) --verify out/sam.json
	$(BIN)/python -m infra.layer out   # the layer without the runtime's botocore; .pyc in both zips; sizes

## make docs: the lifecycle and status glossary sections of docs/data-model.md, docs/policies.md (the rules
## table) and docs/openapi.json, from the code
.PHONY: docs
docs: openapi
	$(BIN)/python -m chalicelib.lifecycle
	$(BIN)/python -m chalicelib.glossary
	$(BIN)/python -m chalicelib.policies

## make openapi: docs/openapi.json from the route table (a test fails when the committed file is stale)
.PHONY: openapi bench bench-api bench-cold-start bench-schemathesis bench-sweep bench-footprint bench-load-stack
openapi: $(STAMP)
	$(BIN)/python -m chalicelib.openapi --write   # and chalicelib/route_index.py

## make contract-release: docs/contract/openapi-released.json := the current document, the copy breaking
## changes are checked against; CHANGELOG.md's `## Unreleased` becomes the version's section (docs/contract.md)
.PHONY: contract-release contract-changes
contract-release: $(STAMP)
	$(BIN)/python -m infra.contract --release

## make contract-changes: the breaking changes against the released copy, and whether CHANGELOG.md has them
contract-changes: $(STAMP)
	$(BIN)/python -m infra.contract

## make bench [BENCH_PARTS=api,sweep]: every figure of docs/benchmarks.md in one run (bench/run.py): make package,
## then every bench one after another, each rewriting its own sections in place (machine, date, how measured);
## the local load on a `make run` stack of its own on free loopback ports, stopped afterwards even on failure;
## `make check` timed; the run's own section says how long each part took. Exit 1 if a part failed.
bench: $(STAMP)
	$(BIN)/python bench/run.py

## make bench-api: DynamoDB requests and the request units DynamoDB would bill (bench/capacity.py) per route
## (in-process moto, every route) and per lifecycle, with their on-demand cost
bench-api: $(STAMP)
	$(BIN)/python bench/api_cost.py

## make bench-cold-start [BENCH_COLD_RUNS=9]: the first request of a search, a wallet payment and a warehouse
## scan in a fresh process (import + Lambda invocation, traced, moto server on loopback) against
## bench/minimal_app, alternating pairs; where the time goes; the zip sizes of the last `make package`
bench-cold-start: $(STAMP)
	$(BIN)/python bench/cold_start.py

## make bench-schemathesis: the schemathesis run of the test suite, its case count into docs/benchmarks.md
bench-schemathesis: $(STAMP)
	SCHEMATHESIS_REPORT=1 $(BIN)/python -m pytest -q tests/integration/test_schemathesis.py

## make bench-load [CLIENTS=50] [DURATION=30]: concurrent clients against the running `make run`
## (public reads, signed-in reads, money moves); requests/s, p50/p95/p99, errors into docs/benchmarks.md
CLIENTS ?= 50
DURATION ?= 30
bench-load: $(STAMP)
	$(BIN)/python bench/load.py --clients $(CLIENTS) --seconds $(DURATION)

## make bench-load-stack: bench-load on a `make run` stack of its own on free ports, stopped afterwards
bench-load-stack: $(STAMP)
	$(BIN)/python bench/load.py --own-stack --clients $(CLIENTS) --seconds $(DURATION)

## make bench-sweep: the storage sweep's reads, scanned count and request units against what is due
bench-sweep: $(STAMP)
	$(BIN)/python bench/sweep.py

## make bench-footprint: peak memory and time of each function's work (sizes Lambda memory and timeouts)
bench-footprint: $(STAMP)
	$(BIN)/python bench/footprint.py
