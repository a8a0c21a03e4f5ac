# Levier: `make demo` and `make test` are the whole quick start.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export LEVIER_DATA_DIR ?= $(CURDIR)/var
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install install-dev assets messages demo serve test test-sqlite test-postgres lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python assets
	$(BIN)/pip install --quiet -e .
	$(MAKE) --no-print-directory messages

install-dev: $(BIN)/python assets
	$(BIN)/pip install --quiet -e '.[dev]'
	$(MAKE) --no-print-directory messages

# HTMX comes from the npm registry at install time (package-lock.json pins it); no CDN.
assets: node_modules/htmx.org/dist/htmx.min.js
node_modules/htmx.org/dist/htmx.min.js: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

# Compiles the French catalogue with Babel (no gettext binaries needed).
messages:
	$(BIN)/pybabel compile --domain django --directory levier/locale --statistics

demo: install
	LEVIER_DEMO=1 DEBUG=1 $(BIN)/levier migrate --noinput
	LEVIER_DEMO=1 DEBUG=1 $(BIN)/levier load-demo --if-empty
	@echo ""
	@echo "Levier demo: http://$(HOST):$(PORT)/"
	@echo "Logins (password 'demo'): commercial, adv, compta, direction, admin, auditeur"
	@echo ""
	LEVIER_DEMO=1 DEBUG=1 $(BIN)/levier runserver $(HOST):$(PORT)

# Runs the whole suite on SQLite, then again on PostgreSQL when DATABASE_URL points to one.
test: install-dev
	$(MAKE) --no-print-directory lint typecheck
	$(MAKE) --no-print-directory test-sqlite
	@if [ -n "$$DATABASE_URL" ]; then $(MAKE) --no-print-directory test-postgres; \
	 else echo "DATABASE_URL not set: PostgreSQL run skipped"; fi

test-sqlite:
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL $(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

test-postgres:
	@echo "== test suite on PostgreSQL ($$DATABASE_URL) =="
	@$(BIN)/python -c "import os, psycopg; psycopg.connect(os.environ['DATABASE_URL'], connect_timeout=5).close()" \
	  || { echo "DATABASE_URL is set but PostgreSQL cannot be reached: $$DATABASE_URL"; exit 1; }
	$(BIN)/pytest -p no:cacheprovider $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy levier

bench: install-dev
	$(BIN)/python bench/orders.py

clean:
	rm -rf $(VENV) node_modules var
