# The README's commands. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCHES := $(sort $(wildcard bench/bench_*.py))
# The lock files: exact versions with their hashes, generated from pyproject.toml's ranges by
# `make lock`. requirements.txt is the runtime (deploy/), requirements-dev.txt the runtime plus
# the dev extra (CI, dev).
LOCK := requirements.txt
DEV_LOCK := requirements-dev.txt
UV_VERSION := 0.13.9
LOCK_FLAGS := --universal --python-version 3.11 --generate-hashes --quiet \
	--custom-compile-command 'make lock'
COVERAGE_MIN := 85
TEST_WORKERS ?= auto

.PHONY: install install-runtime lock run test coverage lint typecheck fmt bench fuzz browser screenshot \
	console-screenshots clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when a lock file or pyproject.toml changed since the last install: the pinned
# dependencies first (hashes checked), then the project itself, editable, adding nothing.
# `pip check` fails when pyproject.toml asks for what the lock lacks: run `make lock`.
$(STAMP): $(DEV_LOCK) $(LOCK) pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --require-hashes -r $(DEV_LOCK)
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Production (deploy/): the runtime lock only, no dev tools, into the same .venv.
install-runtime: | $(BIN)/python
	$(BIN)/python -m pip install --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --no-deps -e .
	$(BIN)/python -m pip check

# Regenerate the lock files from pyproject.toml, keeping the pins that still fit its ranges;
# `make lock UPGRADE=1` moves every pin to the newest release allowed. uv is installed into the
# venv on demand: only this target needs it. The runtime lock is constrained by the dev lock, so
# production runs exactly the versions CI tested.
lock: | $(BIN)/python
	@test -x $(BIN)/uv && $(BIN)/uv --version | grep -q ' $(UV_VERSION)' || \
		$(BIN)/python -m pip install -q uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) $(if $(UPGRADE),--upgrade) \
		-o $(DEV_LOCK)
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c $(DEV_LOCK) -o $(LOCK)

run: $(STAMP)
	$(BIN)/gateway run

# Tests run in parallel, one pytest-xdist worker per core (TEST_WORKERS=0: in one process);
# each worker has its own PostgreSQL and Redis database (tests/conftest.py).
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS)

# The suite under coverage (subprocesses included), then every file of gateway/ and worker/
# must reach COVERAGE_MIN % of its lines, except those in coverage-exempt.txt (which may only
# shrink: see scripts/check_coverage.py). Not part of `make test` or CI: it is slower.
coverage: $(STAMP)
	rm -f .coverage .coverage.* coverage.json
	$(BIN)/coverage run -m pytest -n $(TEST_WORKERS)
	$(BIN)/coverage combine -q
	$(BIN)/coverage json -q -o coverage.json
	$(BIN)/coverage report --skip-covered --sort=cover
	$(BIN)/python scripts/check_coverage.py --min $(COVERAGE_MIN) coverage.json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict gateway worker bench scripts tests

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The fuzz suite's long run (issue 15): the generator of tests/handlers/test_fuzz.py, with
# FUZZ_REQUESTS hostile requests over every route (the suite sends 20,000); any 5xx fails.
# On PostgreSQL when DATABASE_URL is set, embedded otherwise. Figures in the README.
FUZZ_REQUESTS ?= 1000000
fuzz: $(STAMP)
	FUZZ_REQUESTS=$(FUZZ_REQUESTS) FUZZ_PROGRESS=var/fuzz-progress.log \
		$(BIN)/pytest -n $(TEST_WORKERS) tests/handlers/test_fuzz.py

bench: $(STAMP)
	@set -e; for f in $(BENCHES); do \
		m=$$(basename $$f .py); echo "== bench.$$m"; $(BIN)/python -m bench.$$m; \
	done

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium; `playwright
# install` is never run: browser downloads are not reachable). Installed when missing and run as
# root; otherwise the browser tests skip and say why. `.ci/run` calls it before the tests.
browser:
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		{ echo "chromium missing: run 'apt-get install -y chromium' as root"; exit 1; }

# The web simulator in headless Chromium -> var/screenshots/simulator.png.
screenshot: $(STAMP) browser
	mkdir -p var/screenshots
	SIMULATOR_SCREENSHOT=$(CURDIR)/var/screenshots/simulator.png \
		$(BIN)/pytest tests/handlers/test_simulator.py -k screenshot -rs
	@echo "var/screenshots/simulator.png"

# The operator console in headless Chromium (Playwright): login, home, users, audit, household ->
# var/screenshots/console-*.png (tests/console/test_browser.py).
console-screenshots: $(STAMP) browser
	mkdir -p var/screenshots
	CONSOLE_SCREENSHOTS=$(CURDIR)/var/screenshots \
		$(BIN)/pytest -p no:xdist tests/console/test_browser.py tests/console/test_browser_field.py -rs
	@ls var/screenshots/console-*.png

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache .hypothesis bench/out build dist *.egg-info
	rm -rf .coverage .coverage.* coverage.json htmlcov
	find gateway worker tests migrations bench scripts -name __pycache__ -type d -prune \
		-exec rm -rf {} +
