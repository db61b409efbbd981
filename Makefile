# ECG Review. `make run` serves the demo; `make test` runs the whole suite. See README.md.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint lint-js docs client bench bench-peer venv convert-venv migrate clean-var

$(STAMP): requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' || { \
	  echo "ECG Review needs Python 3.12 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1)."; \
	  echo "Install one (e.g. 'pyenv install 3.12') or run: make PYTHON=/path/to/python3.12 ..."; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Optional, for `python -m annotations.lib.convert_keras` only (TensorFlow, 1.7 GB; docs/suggestions-onnx.md).
# tf-keras without its dependencies: it asks for `tensorflow`, which tensorflow-cpu already provides.
CONVERT_VENV := .venv-convert
$(CONVERT_VENV)/.installed: requirements-convert.txt
	test -x $(CONVERT_VENV)/bin/python || $(PYTHON) -m venv $(CONVERT_VENV)
	$(CONVERT_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CONVERT_VENV)/bin/python -m pip install --quiet -r requirements-convert.txt
	$(CONVERT_VENV)/bin/python -m pip install --quiet --no-deps tf-keras==2.21.0
	touch $@

convert-venv: $(CONVERT_VENV)/.installed

# With no DATABASE_URL: SQLite under var/; with no REDIS_URL: tasks run in-process.
run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py migrate --no-input
	DEBUG=$${DEBUG:-1} $(PY) manage.py load_taxonomy --shipped
	DEBUG=$${DEBUG:-1} $(PY) manage.py seed_demo
	DEBUG=$${DEBUG:-1} $(PY) manage.py resume_jobs
	DEBUG=$${DEBUG:-1} $(PY) manage.py runserver $(HOST):$(PORT)

# PostgreSQL and Redis from DATABASE_URL/REDIS_URL, or the local servers; tests/services.py starts
# throwaway ones when none answers.
test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup --durations=30

# mypy: settings in pyproject.toml (strict on lib/, services/ and selectors/); docs/architecture.md.
lint: $(STAMP) lint-js
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# ESLint over the page scripts, at the versions .ci/eslint/package-lock.json pins (Node.js and npm needed).
lint-js:
	test -d .ci/eslint/node_modules || npm ci --prefix .ci/eslint --no-audit --no-fund
	.ci/eslint/node_modules/.bin/eslint -c .ci/eslint/eslint.config.mjs static/js

# docs/ as a site under var/site/; --strict fails on a link to a missing page or heading.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict

# A Python client generated from the API's OpenAPI schema (docs/api-client.md), never committed: the schema
# as $(CLIENT_DIR)/openapi.yaml, the package in $(CLIENT_DIR)/ecg-review-client/. A schema warning, or an
# operation the generator cannot render, fails the target.
CLIENT_DIR ?= var/client
client: $(STAMP)
	mkdir -p $(CLIENT_DIR)
	DEBUG=$${DEBUG:-1} $(PY) manage.py spectacular --validate --fail-on-warn --file $(CLIENT_DIR)/openapi.yaml
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/openapi-python-client generate --overwrite --fail-on-warning \
	  --path $(CLIENT_DIR)/openapi.yaml --config openapi-client.yaml --meta setup \
	  --output-path $(CLIENT_DIR)/ecg-review-client

# Our own benchmarks; peer_* compare with another product, which they install first: bench-peer runs them.
bench: $(STAMP)
	@set -e; for script in bench/*.py; do \
	  case "$$script" in */_*|*/peer_*) continue;; esac; \
	  echo "== $$script"; $(PY) $$script; done

bench-peer: $(STAMP)
	@set -e; for script in bench/peer_*.py; do echo "== $$script"; $(PY) $$script; done

clean-var:
	rm -rf var
