"""A Codex child that prints garbage and a 50 MB line on its stdout (its JSON-RPC channel)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from codex_runner.codex.binary import find_codex_binary

from ..acceptance.daemon.harness import TERMINAL, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost
from .test_slow_event_client import rss_kb

pytestmark = pytest.mark.acceptance

LINE_BYTES = 50 * 1024 * 1024
# A line buffered whole would be counted in the daemon's memory at least once.
RSS_BOUND_KB = 40 * 1024 + 200 * 1024

# The first app-server it starts prints garbage, then one 50 MB line, then runs for real;
# later ones (the restarts) are the real Codex.
_WRAPPER = """#!/bin/sh
if [ "$1" = app-server ] && [ ! -e "$0.injected" ]; then
  : > "$0.injected"
  printf 'not JSON at all \\001\\002\\n{"jsonrpc": "2.0", "id": \\n\\377\\376 invalid UTF-8\\n'
  head -c {size} /dev/zero | tr '\\000' x
  printf '\\n'
fi
exec {real} "$@"
"""


def garbage_codex(directory: Path) -> Path:
    script = directory / "codex"
    real = shlex.quote(str(find_codex_binary(None)))
    script.write_text(_WRAPPER.replace("{size}", str(LINE_BYTES)).replace("{real}", real))
    script.chmod(0o755)
    return script


async def test_garbage_and_a_50_mb_line_from_codex_do_not_break_the_daemon_or_blow_its_memory(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    fake = garbage_codex(tmp_path)
    daemon = await start_daemon(codex={"bin": str(fake), "max_line_bytes": 1024 * 1024})
    assert daemon.proc is not None
    assert fake.with_name("codex.injected").exists()
    async with daemon.client() as client:
        task = (await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})).json()
        assert (await wait_state(client, task["id"], TERMINAL))["state"] == "completed"
        rss = rss_kb(daemon.proc.pid)
        assert rss < RSS_BOUND_KB, f"the daemon holds {rss} kB"
        await assert_nothing_lost(client, [task["id"]])
    daemon.stop()
    assert_no_run_files(daemon.home)
    assert "Traceback" not in daemon.log.read_text(errors="replace")
