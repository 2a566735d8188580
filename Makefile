# Two targets a newcomer uses on a fresh machine; each sets up what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run demo test lint typecheck unit acceptance bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/codex-runner serve

demo: $(STAMP)
	$(BIN)/codex-runner demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

test: lint typecheck
	$(BIN)/pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python bench/turn_latency.py
	$(BIN)/python bench/task_throughput.py
	$(BIN)/python bench/event_ingest.py
	$(BIN)/python bench/restart.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
