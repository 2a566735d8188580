# Two targets a newcomer uses on a fresh machine; each sets up what it needs.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Root installs packages itself; anyone else goes through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run demo test lint typecheck unit acceptance bench clean test-tools

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

# Debian packages the tests drive: Chromium for the admin page's browser tests (Playwright's
# own browser download needs the internet), tmux for the Codex TUI attached to a task.
# Installed once when missing.
# PostgreSQL: the tests start a throwaway server from Debian's binaries (tests/support/postgres.py).
# iproute2: a partition test puts a host in its own network namespace (tests/support/netns.py).
test-tools:
	command -v chromium >/dev/null && command -v tmux >/dev/null && command -v ip >/dev/null && \
		(command -v initdb >/dev/null || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1) || \
		($(SUDO) apt-get update && \
		$(SUDO) apt-get install -y --no-install-recommends chromium tmux postgresql iproute2)

test: lint typecheck test-tools
	$(BIN)/pytest -q -p no:cacheprovider

# Bytecode first: with PYTHONDONTWRITEBYTECODE set (as in some CI images) an editable
# install would otherwise compile the package on every daemon start the restart bench times.
# Each script prints its own table; the run ends with one table of every target.
bench: $(STAMP)
	$(BIN)/python -m compileall -q src
	export BENCH_RESULTS=$$(mktemp /tmp/codex-runner-bench-XXXXXX); \
	$(BIN)/python bench/turn_latency.py && \
	$(BIN)/python bench/followup_latency.py && \
	$(BIN)/python bench/task_throughput.py --rounds 3 && \
	$(BIN)/python bench/event_ingest.py && \
	$(BIN)/python bench/event_ingest.py --postgres && \
	$(BIN)/python bench/restart.py --rounds 5 && \
	$(BIN)/python bench/worktree_start.py && \
	$(BIN)/python bench/daemon_memory.py && \
	$(BIN)/python bench/cluster_claims.py && \
	$(BIN)/python bench/cluster_failover.py && \
	$(BIN)/python bench/thread_carry.py && \
	$(BIN)/python bench/summary.py; status=$$?; rm -f "$$BENCH_RESULTS"; exit $$status

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache
