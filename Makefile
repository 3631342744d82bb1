# Two commands do all set-up on a fresh machine:
#   make ask     - build the environment and answer a question (offline, no API key)
#   make test    - build the environment, start Redis/PostgreSQL if needed, run every check
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
Q ?= 페트병 어떻게 버려요?

.PHONY: ask test lint typecheck architecture pytest answers wheel-check services bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

ask: $(STAMP)
	$(BIN)/python -m app ask "$(Q)"

test: $(STAMP) services lint typecheck architecture pytest answers wheel-check

services:
	bash .ci/services.sh

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

architecture: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/python -m pytest

# The answer-level gate: the blind set, offline, fails under 95% overall or 90% in any kind.
answers: $(STAMP)
	$(BIN)/python -m app eval tests/data/answer_eval.yaml --min-overall 0.95 --min-kind 0.90

wheel-check: $(STAMP) services
	PYTHON=$(PYTHON) bash .ci/wheel_check.sh

bench: $(STAMP) services
	$(BIN)/python bench/perf.py
	$(BIN)/python bench/http_pool.py
	$(BIN)/python bench/breaker.py
	$(BIN)/python bench/observability.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
