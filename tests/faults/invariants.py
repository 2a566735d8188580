"""What every fault scenario checks afterwards: nothing was lost, nothing was left behind.

- every acknowledged submit is still there, and its events are numbered 1..n without gaps;
- no turn was recorded twice (each Codex turn id starts once and ends at most once);
- no process of the test is left alive (Codex, its commands) once the daemon stopped;
- no stale run file (``run/daemon.json``, ``run/codex-*.json``) after a clean stop.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import httpx

from ..acceptance.daemon.harness import all_events

ORPHAN_DEADLINE_S = 15.0
TURN_ENDS = ("codex.turn.completed", "codex.turn.failed")


async def assert_nothing_lost(
    client: httpx.AsyncClient, acknowledged: Iterable[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each acknowledged task exists with a gapless history and no duplicate turn; its events."""
    histories: dict[str, list[dict[str, Any]]] = {}
    for task_id in acknowledged:
        response = await client.get(f"/v1/tasks/{task_id}")
        assert response.status_code == 200, f"acknowledged task {task_id} is lost: {response.text}"
        events = await all_events(client, task_id)
        seqs = [event["seq"] for event in events]
        assert seqs == list(range(1, len(seqs) + 1)), f"task {task_id}: events not 1..n: {seqs}"
        assert events and events[0]["type"] == "task.created", f"task {task_id}: {events[:1]}"
        started = Counter(
            e["data"].get("turn_id") for e in events if e["type"] == "codex.turn.started"
        )
        ended = Counter(e["data"].get("turn_id") for e in events if e["type"] in TURN_ENDS)
        twice = {turn: n for turn, n in started.items() if turn and n > 1}
        assert not twice, f"task {task_id}: turns started more than once: {twice}"
        twice = {turn: n for turn, n in ended.items() if turn and n > 1}
        assert not twice, f"task {task_id}: turns ended more than once: {twice}"
        histories[task_id] = events
    return histories


def processes_under(root: Path) -> dict[int, str]:
    """Live processes (not zombies) whose command line, environment or cwd names ``root``."""
    marker = str(root).encode()
    found: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (entry / "stat").read_bytes().rsplit(b")", 1)[1].split()[0] == b"Z":
                continue  # already dead, only waiting for its parent to read its status
            cmdline = (entry / "cmdline").read_bytes()
            seen = marker in cmdline or marker in (entry / "environ").read_bytes()
            if not seen:
                seen = os.readlink(entry / "cwd").startswith(str(root))
        except (OSError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if seen:
            found[int(entry.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


async def assert_no_orphans(root: Path, timeout: float = ORPHAN_DEADLINE_S) -> None:
    """No process of this test (under ``root``: its homes and repos) outlives the daemon.

    Polls with a deadline: a child killed a moment ago may still be exiting.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        left = processes_under(root)
        if not left:
            return
        if loop.time() > deadline:
            raise AssertionError(f"processes left behind under {root}: {left}")
        await asyncio.sleep(0.1)  # polling /proc: there is no event for another's exit


def assert_no_run_files(home: Path) -> None:
    """A cleanly stopped daemon leaves neither its address nor Codex pid files behind."""
    run = home / "run"
    left = sorted(p.name for p in run.glob("*")) if run.is_dir() else []
    stale = [name for name in left if name == "daemon.json" or name.startswith("codex-")]
    assert not stale, f"stale run files in {run}: {stale}"
