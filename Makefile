# Stagegate: the two commands of the README are `make run` and `make test`.
# Everything else here is what they need; each target installs what it uses.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAGEGATE := $(VENV)/bin/stagegate
PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
HOST   ?= 127.0.0.1
PORT   ?= 5000
FUZZ_VENV ?= .venv-fuzz

.PHONY: run test test-postgres setup assets browser bench bench-check fuzz clean

## make run: set up, migrate, load the demo, serve http://127.0.0.1:5000 (SQLite; PORT=… HOST=…)
## Tokens' issuer and the served contract's server URL follow HOST and PORT unless
## STAGEGATE_TOKEN_ISSUER is set.
run: export STAGEGATE_TOKEN_ISSUER ?= http://$(HOST):$(PORT)
run: setup
	$(STAGEGATE) db upgrade
	$(STAGEGATE) demo
	$(STAGEGATE) run --host $(HOST) --port $(PORT)

## make test: set up (incl. Chromium) and run the whole suite on SQLite
test: setup browser
	$(PY) -m pytest

## make test-postgres: the same suite against PostgreSQL (a fresh database per run)
test-postgres: setup browser
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest

setup: $(VENV)/.installed assets

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

assets: node_modules/.package-lock.json
	$(PY) scripts/assets.py

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

## Debian's Chromium for the Playwright tests (never `playwright install`: no downloads here)
## and Debian's nginx for the gateway tests (the tests start their own instances on loopback).
browser:
	@command -v chromium >/dev/null 2>&1 && { command -v nginx >/dev/null 2>&1 || test -x /usr/sbin/nginx; } || { \
	  echo "Installing Debian's chromium and nginx for the browser and gateway tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light >/dev/null; \
	  if [ -f /run/nginx.pid ]; then kill "$$(cat /run/nginx.pid)" 2>/dev/null || true; fi; }

## make bench: ingest the large corpus documents; prints ratios against the validator alone
bench: setup
	$(PY) scripts/bench.py

## make bench-check: issue 10 — check vs Redocly lint and the validator (whole process), REST
## revisions, token analysis and authentication vs the bare cryptography (npm ci in bench/)
bench-check: setup
	$(PY) scripts/bench_check.py
## make fuzz: schemathesis against a live server (seeded SQLite, gunicorn), bounded in
## examples and time; fails on any server error or contract violation (scripts/fuzz_api.py)
fuzz: setup $(FUZZ_VENV)/.installed
	$(PY) scripts/fuzz_api.py --st $(FUZZ_VENV)/bin/st

## schemathesis lives in its own virtualenv: it pins jsonschema-rs, which the app's
## openapi-spec-validator uses too (scripts/fuzz-requirements.txt)
$(FUZZ_VENV)/.installed: scripts/fuzz-requirements.txt
	$(PYTHON) -m venv $(FUZZ_VENV)
	$(FUZZ_VENV)/bin/pip install --quiet -r scripts/fuzz-requirements.txt
	touch $@

clean:
	rm -rf $(VENV) $(FUZZ_VENV) node_modules lifecycle/static/vendor
