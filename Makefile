# The two commands a new user needs: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(TEST_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP) $@

run: $(STAMP)
	$(BIN)/deliverables-bot serve --demo

lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(TEST_STAMP)
	$(BIN)/mypy bot

test: lint typecheck
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest -q -rs -p no:cacheprovider
	$(BIN)/coverage combine -q
	$(BIN)/coverage report --skip-empty --sort=cover

bench: $(TEST_STAMP)
	$(BIN)/python bench/bench_airtable_local.py
	$(BIN)/python bench/bench_service.py
	$(BIN)/python bench/bench_ack.py
	$(BIN)/python bench/bench_scale.py
	$(BIN)/python bench/bench_processes.py
	$(BIN)/python bench/bench_large_payloads.py
	$(BIN)/python bench/bench_airtable_to_github.py
	$(BIN)/python bench/bench_replicas.py

clean:
	rm -rf $(VENV) .deliverables-bot .coverage .coverage.* .mypy_cache .ruff_cache .hypothesis
