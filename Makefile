# Two set-up commands: `make run` (the demo, no services needed) and `make test` (everything the tests need).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export MARKETPLACE_DATA_DIR ?= var

.PHONY: install install-dev run serve migrate demo test test-sqlite test-postgresql lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/marketplace migrate

demo: migrate
	$(BIN)/marketplace demo --if-empty

run: demo
	$(BIN)/marketplace serve

serve: install
	$(BIN)/marketplace serve

system-deps:
	bash scripts/system-deps.sh

lint: install-dev
	$(BIN)/ruff check marketplace workers search admin tests
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

test-sqlite: install-dev system-deps
	TEST_DATABASE=sqlite $(BIN)/python -m pytest -q

test-postgresql: install-dev system-deps
	TEST_DATABASE=postgresql $(BIN)/python -m pytest -q -m "not browser"

test: lint typecheck test-sqlite test-postgresql

bench: install-dev system-deps
	$(BIN)/python -m tests.benchmarks

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
