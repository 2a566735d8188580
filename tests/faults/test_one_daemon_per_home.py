"""A second daemon on a home that a running daemon uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.runner_home.daemon_info import read_info

from ..acceptance.daemon.harness import TERMINAL, wait_event, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance


async def test_a_second_daemon_on_the_same_home_refuses_and_leaves_the_first_untouched(
    start_daemon: StartDaemon, repo: Path
) -> None:
    first = await start_daemon()
    assert first.proc is not None
    async with first.client() as client:
        task = (
            await client.post("/v1/tasks", json={"prompt": "long job", "repo": str(repo)})
        ).json()
        await wait_event(client, task["id"], "codex.turn.started")
        code, _out, err = await first.cli("serve", "--port", "0")
        assert code != 0
        assert "already uses this home" in err, err
        assert f"pid {first.proc.pid}" in err, err
        assert "Traceback" not in err
        info = read_info(first.home)
        assert info is not None and info.pid == first.proc.pid and info.url == first.url
        # The first daemon's task was neither reconciled nor resumed by the second.
        done = await wait_state(client, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        events = (await assert_nothing_lost(client, [task["id"]]))[task["id"]]
        assert "task.reconciled" not in [event["type"] for event in events]
        assert (await client.get("/readyz")).status_code == 200
    first.stop()
    assert_no_run_files(first.home)
