"""The daemon's home deleted, or turned read-only, under a running daemon."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import httpx
import pytest

from codex_runner.logs import LogLayout, LogQuery, read

from ..acceptance.daemon.harness import TERMINAL, wait_event, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost
from .read_only_home import WRAPPER, make_read_only, make_writable, unavailable_reason

pytestmark = pytest.mark.acceptance

SERVICE = {"home_check_interval_s": 0.2}
DEADLINE_S = 20.0


def remove_tree(path: Path) -> None:
    """rm -rf under a live daemon: a file it removes itself between the listing and the
    unlink (its write probe) is already gone, which is what we want."""

    def gone_already(function: object, name: str, info: tuple[type, BaseException, object]) -> None:
        if not isinstance(info[1], FileNotFoundError):
            raise info[1]

    shutil.rmtree(path, onerror=gone_already)


async def wait_unready(client: httpx.AsyncClient) -> str:
    """Poll /readyz until it answers 503; the reason it gives."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            response = await client.get("/readyz")
            if response.status_code == 503:
                return response.text
            await asyncio.sleep(0.1)  # the home is checked on an interval: nothing to wait on


async def wait_ready(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if (await client.get("/readyz")).status_code == 200:
                return
            await asyncio.sleep(0.1)  # as in wait_unready


async def assert_new_work_refused(client: httpx.AsyncClient, cwd: Path, naming: str) -> None:
    refused = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(cwd)})
    assert refused.status_code == 503, refused.text
    assert naming in refused.json()["error"]["message"], refused.text


def count_lines(log: Path, text: str) -> int:
    return sum(text in line for line in log.read_text(errors="replace").splitlines())


async def test_a_deleted_home_fails_readiness_refuses_work_and_stops_the_running_turn(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service=SERVICE)
    async with daemon.client() as client:
        running = (await client.post("/v1/tasks", json={"prompt": "slow", "cwd": str(repo)})).json()
        await wait_event(client, running["id"], "codex.turn.started")
        remove_tree(daemon.home)
        reason = await wait_unready(client)
        assert "deleted" in reason and str(daemon.home) in reason, reason
        await assert_new_work_refused(client, repo, "deleted")
        stopped = await wait_state(client, running["id"], {"interrupted", "failed"}, timeout=30)
        assert "deleted" in stopped["reason"], stopped
    daemon.stop()
    log = daemon.log.read_text(errors="replace")
    assert count_lines(daemon.log, "home unavailable") == 1, log[-3000:]
    assert log.count("Traceback") == 0, log[-3000:]


async def test_a_read_only_home_fails_readiness_refuses_work_and_recovers_when_writable(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path, home: Path
) -> None:
    why_not = unavailable_reason(tmp_path / "probe")
    if why_not is not None:
        pytest.skip(why_not)
    daemon = await start_daemon(service=SERVICE, wrapper=WRAPPER)
    assert daemon.proc is not None
    async with daemon.client() as client:
        running = (await client.post("/v1/tasks", json={"prompt": "slow", "cwd": str(repo)})).json()
        await wait_event(client, running["id"], "codex.turn.started")
        make_read_only(daemon.proc.pid, home)
        reason = await wait_unready(client)
        assert "not writable" in reason and str(home) in reason, reason
        await assert_new_work_refused(client, repo, "not writable")
        stopped = await wait_state(client, running["id"], {"interrupted", "failed"}, timeout=30)
        assert "not writable" in stopped["reason"], stopped
        make_writable(daemon.proc.pid, home)
        await wait_ready(client)
        after = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(repo)})
        assert after.status_code == 201, after.text
        done = await wait_state(client, after.json()["id"], TERMINAL)
        assert done["state"] == "completed", done
        await assert_nothing_lost(client, [running["id"], after.json()["id"]])
    daemon.stop()
    assert_no_run_files(home)
    records = read(LogLayout(home / "logs"), LogQuery(limit=100_000))
    unavailable = [r for r in records if "home unavailable" in r["message"]]
    assert len(unavailable) <= 1, unavailable  # one line for it, not one per event
    assert "Traceback" not in daemon.log.read_text(errors="replace")
