# Two set-up commands: `make run` (the demo, no services needed) and `make test` (everything the tests need).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export MARKETPLACE_DATA_DIR ?= var

.PHONY: install install-dev run serve migrate demo test test-sqlite test-clock test-postgresql test-meilisearch reliability-clear lint typecheck bench clean

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

# The suites run on every core (pytest-xdist; each worker has its own databases, servers and data directory).
# Work stealing: a worker that runs out of tests takes pending ones from the other, so a few slow tests queued
# behind each other at the end of one worker's list do not leave the other idle.
PYTEST_WORKERS ?= auto
PYTEST := $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist worksteal

test-sqlite: system-deps install-dev
	TEST_DATABASE=sqlite $(PYTEST)

# The date-sensitive suites again with the app's clock at 16:05 and 23:55 UTC, when the district's date is already
# tomorrow's: a bug that mixes the machine's UTC calendar with the district's fails here at any hour.
test-clock: system-deps install-dev
	TEST_CLOCK=16:05 TEST_DATABASE=sqlite $(PYTEST) -m "clock_sensitive and not browser" $$($(BIN)/python -m tests.support.clock_suites)
	TEST_CLOCK=23:55 TEST_DATABASE=sqlite $(PYTEST) -m "clock_sensitive and not browser" $$($(BIN)/python -m tests.support.clock_suites)

# What a database can change: the tests that touch none ran in the SQLite stage (tests/conftest.py; TEST_EVERY_TEST=1
# runs them here too).
test-postgresql: system-deps install-dev
	TEST_DATABASE=postgresql $(PYTEST) -m "not browser"

# The reliability figures (tests/support/figures.py) of the suites below, cleared first and printed at the end.
reliability-clear:
	rm -rf test-artifacts/reliability

test: reliability-clear lint typecheck test-sqlite test-clock test-postgresql
	$(BIN)/python -m tests.support.figures

# The search contract and the server-only checks against a real Meilisearch (>= 1.10) at MEILI_URL (key: MEILI_KEY);
# every test uses its own randomly prefixed indexes and deletes them. Not part of `make test` (no server here).
test-meilisearch: install-dev
	@if [ -z "$$MEILI_URL" ]; then \
		echo "test-meilisearch: set MEILI_URL (and MEILI_KEY if the server has a master key), e.g." >&2; \
		echo "  MEILI_URL=http://127.0.0.1:7700 MEILI_KEY=... make test-meilisearch" >&2; \
		exit 2; \
	fi
	TEST_DATABASE=sqlite $(BIN)/python -m pytest -q -n 0 -m meilisearch tests/search/test_contract.py tests/search/test_meili_contract.py

# Every script in tests/benchmarks/ (or those named: `make bench BENCH="bench_api bench_search"`); the tables go to
# BENCHMARKS.md. bench_api drives the served API with wrk (a Debian package, installed by system-deps).
BENCH ?=
bench: install-dev system-deps
	$(BIN)/python -m tests.benchmarks $(BENCH)

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache
