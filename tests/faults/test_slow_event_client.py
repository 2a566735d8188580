"""A slow event-stream client (it reads nothing) among fast ones."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from ..acceptance.daemon.harness import TERMINAL, all_events, wait_state
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance

SLOW_CLIENTS = 3
# Far above what the daemon needs (tens of MB), far below a stream held in memory per client.
RSS_GROWTH_BOUND_KB = 300 * 1024


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for pid {pid}")


def open_stalled_stream(url: str, token: str, task_id: str) -> socket.socket:
    """Ask for the task's event stream on a socket with a tiny receive buffer, then never
    read: the daemon's writes back up at once."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.settimeout(10)
    sock.connect((parts.hostname or "127.0.0.1", parts.port or 80))
    request = (
        f"GET /v1/tasks/{task_id}/events/stream HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.sendall(request.encode())
    return sock


async def test_a_stalled_event_client_does_not_hold_back_the_others_or_grow_the_daemon(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    assert daemon.proc is not None
    token = (daemon.home / "api-token").read_text().strip()
    async with daemon.client() as client:
        tasks = []
        for n in range(3):
            workdir = tmp_path / f"work-{n}"
            workdir.mkdir()
            body = {"prompt": "flood", "cwd": str(workdir)}
            tasks.append((await client.post("/v1/tasks", json=body)).json()["id"])
        before = rss_kb(daemon.proc.pid)
        stalled = [
            open_stalled_stream(daemon.url, token, tasks[n % len(tasks)])
            for n in range(SLOW_CLIENTS)
        ]
        try:
            # Fast clients: each follows its task's live stream to the end.
            ended = await asyncio.gather(
                *(wait_state(client, task_id, TERMINAL, timeout=100) for task_id in tasks)
            )
            assert [task["state"] for task in ended] == ["completed"] * len(tasks), ended
            growth = rss_kb(daemon.proc.pid) - before
            assert growth < RSS_GROWTH_BOUND_KB, f"the daemon grew by {growth} kB"
            # The daemon still answers, and a late reader catches up from the durable log.
            histories = await assert_nothing_lost(client, tasks)
            late = await all_events(client, tasks[0])
            assert late == histories[tasks[0]]
        finally:
            for sock in stalled:
                sock.close()
    daemon.stop()
    assert_no_run_files(daemon.home)
