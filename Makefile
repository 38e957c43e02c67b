# The README's commands. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCHES := $(sort $(wildcard bench/bench_*.py))

.PHONY: install run test lint typecheck fmt bench screenshot clean

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/gateway run

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict gateway worker bench

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@set -e; for f in $(BENCHES); do \
		m=$$(basename $$f .py); echo "== bench.$$m"; $(BIN)/python -m bench.$$m; \
	done

# The web simulator in headless Chromium -> var/screenshots/simulator.png (installs Chromium
# from Debian's packages when run as root and it is missing).
screenshot: $(STAMP)
	@test -x /usr/bin/chromium || { test "$$(id -u)" = 0 && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		{ echo "chromium missing: run 'apt-get install -y chromium' as root"; exit 1; }
	mkdir -p var/screenshots
	SIMULATOR_SCREENSHOT=$(CURDIR)/var/screenshots/simulator.png \
		$(BIN)/pytest tests/handlers/test_simulator.py -k screenshot -rs
	@echo "var/screenshots/simulator.png"

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache .hypothesis bench/out build *.egg-info
	find gateway worker tests migrations bench -name __pycache__ -type d -prune -exec rm -rf {} +
