# make run: install, migrate and serve on SQLite at http://$(HOST):$(PORT), with the mail worker
# make test: install the test dependencies and run the whole suite
# make lint typecheck test: the checks to pass before a commit (see CONTRIBUTING.md)
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
export HOST PORT

.PHONY: run test test-deps install assets migrate bench bench-deps clean instance browser-deps \
	lint format typecheck cov hooks

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/activate
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

static/vendor/htmx.min.js: node_modules/.package-lock.json
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

assets: static/vendor/htmx.min.js

instance:
	$(BIN)/python -m portal.instance_keys instance

migrate: install instance
	$(BIN)/flask --app wsgi db upgrade

# The background worker runs beside gunicorn: it delivers mail when a mail server is set,
# and purges every hour either way (it leaves at once only when both are off).
run: install assets migrate
	@$(BIN)/flask --app wsgi mail-worker --optional & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT; \
	$(BIN)/gunicorn -c python:portal.gunicorn_conf wsgi:app

# Debian's Chromium drives the browser tests (Playwright's own download is not used).
# apt-get needs root: sudo is used only when make does not run as root.
browser-deps:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# axe-core (the accessibility checks in the browser tests) comes from package.json too.
node_modules/axe-core/axe.min.js: node_modules/.package-lock.json
	@test -f $@ || npm ci --no-audit --no-fund --loglevel=error

test-deps: $(VENV)/.test-installed assets node_modules/axe-core/axe.min.js browser-deps

test: test-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# make cov: the suite with branch coverage of portal/; it fails when the total falls under
# COVERAGE_FLOOR (the whole suite on SQLite stood at 93.50% when it was set). Raise it as
# coverage grows. The code the browser tests run in their gunicorn process is not counted.
COVERAGE_FLOOR := 93

cov: test-deps
	$(BIN)/python -m pytest --cov=portal --cov-branch --cov-report=term-missing:skip-covered \
	  --cov-fail-under=$(COVERAGE_FLOOR) $(PYTEST_ARGS)

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.test-installed
	$(BIN)/ruff check --select I --fix .
	$(BIN)/ruff format .

typecheck: $(VENV)/.test-installed
	$(BIN)/mypy

# The git hooks of .pre-commit-config.yaml: lint and typecheck on every commit.
hooks: $(VENV)/.test-installed
	$(BIN)/pre-commit install

# wrk (Debian's package) loads the pages under test (bench/pages.py); installed as browser-deps
# installs chromium.
bench-deps:
	@command -v wrk >/dev/null || { \
	  echo "Installing Debian's wrk for the bench"; \
	  if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }

bench: $(VENV)/.test-installed bench-deps
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) node_modules static/vendor
