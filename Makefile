# The two commands: `make run` (install and start everything) and `make test` (every test).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install system-deps lint format bench clean

run: install
	$(BIN)/servicedesk quickstart

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

install: system-deps $(VENV)/.installed $(if $(wildcard web/package.json),web/.next/BUILD_ID)

system-deps:
	@bash infra/scripts/system-deps.sh

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	touch $@

# The portal: npm ci when the lock file changes, a production build when a source changes.
WEB_SOURCES := $(shell find web/app web/components web/lib web/public -type f 2>/dev/null) \
	$(wildcard web/next.config.ts web/tsconfig.json web/postcss.config.mjs)

web/node_modules/.installed: web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/.next/BUILD_ID: web/node_modules/.installed $(WEB_SOURCES)
	cd web && NEXT_TELEMETRY_DISABLED=1 npm run build

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	-$(BIN)/servicedesk devdb stop
	rm -rf .data $(VENV)
