# The README's commands. `make run` and `make test` do all the set-up on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCHES := $(sort $(wildcard bench/bench_*.py))

.PHONY: install run test lint typecheck fmt bench clean

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
	$(BIN)/mypy --strict gateway worker

fmt: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench: $(STAMP)
	@set -e; for f in $(BENCHES); do \
		m=$$(basename $$f .py); echo "== bench.$$m"; $(BIN)/python -m bench.$$m; \
	done

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache .hypothesis bench/out build *.egg-info
	find gateway worker tests migrations bench -name __pycache__ -type d -prune -exec rm -rf {} +
