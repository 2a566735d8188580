"""A codex-runner daemon in a subprocess (as users run it) and an HTTP client for it."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Collection
from pathlib import Path
from typing import Any

import httpx
import tomli_w

from codex_runner.mockmodel import MockModelServer
from codex_runner.runner_home.daemon_info import read_info

CLI = [sys.executable, "-m", "codex_runner"]
START_TIMEOUT_S = 60.0
TERMINAL = frozenset({"completed", "failed", "cancelled"})


def write_config(
    home: Path, model: MockModelServer, *, service: dict[str, Any], codex: dict[str, Any]
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    settings = {"config": model.codex_config(), **codex}
    (home / "config.toml").write_text(tomli_w.dumps({"codex": settings, "service": service}))


class Daemon:
    """``codex-runner serve --port 0`` in its own home; ``start`` waits until it is ready."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.log = home / "serve.log"
        # A command that runs ``serve`` for us (e.g. in its own mount namespace): it must
        # exec the daemon, so that ``proc.pid`` is the daemon's pid.
        self.wrapper: list[str] = []
        self.serve_args: list[str] = []  # more options of ``serve`` (e.g. ``--host``)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CODEX_RUNNER_HOME": str(self.home), "MOCK_API_KEY": "k"}

    async def start(self) -> None:
        with self.log.open("ab") as out:
            # Popen, not asyncio: the daemon outlives this call and is killed synchronously.
            self.proc = subprocess.Popen(  # noqa: ASYNC220
                [*self.wrapper, *CLI, "serve", "--port", "0", *self.serve_args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT_S
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"the daemon exited: {self.log.read_text()[-2000:]}")
            info = read_info(self.home)
            if info is not None and info.pid == self.proc.pid:
                self.url = info.url
                async with self.client() as client:
                    if (await client.get("/readyz")).status_code == 200:
                        return
            if loop.time() > deadline:
                raise AssertionError(f"the daemon did not start: {self.log.read_text()[-2000:]}")
            await asyncio.sleep(0.1)  # polling a subprocess's files: there is no event

    def client(self, *, token: str | None = None) -> httpx.AsyncClient:
        token = token if token is not None else (self.home / "api-token").read_text().strip()
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    async def cli(self, *args: str) -> tuple[int, str, str]:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *args,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(), 120)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode is not None
        return proc.returncode, out.decode(), err.decode()


async def stream_events(
    client: httpx.AsyncClient, task_id: str, after: int = 0
) -> AsyncIterator[dict[str, Any]]:
    """The task's events from the SSE stream (stored, then live)."""
    async with client.stream(
        "GET", f"/v1/tasks/{task_id}/events/stream", params={"after": after}, timeout=None
    ) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                yield json.loads(line[5:].strip())


async def wait_state(
    client: httpx.AsyncClient, task_id: str, states: Collection[str], timeout: float = 90
) -> dict[str, Any]:
    """Follow the task's event stream until the task is in one of ``states``; the task."""
    async with asyncio.timeout(timeout):
        task: dict[str, Any] = (await client.get(f"/v1/tasks/{task_id}")).json()
        if task["state"] in states:
            return task
        async for event in stream_events(client, task_id):
            if event["type"] in ("task.state_changed", "task.reconciled") and (
                event["data"].get("to") in states
            ):
                task = (await client.get(f"/v1/tasks/{task_id}")).json()
                if task["state"] in states:
                    return dict(task)
    raise AssertionError(f"task {task_id} never reached {sorted(states)}")


async def wait_event(
    client: httpx.AsyncClient, task_id: str, event_type: str, timeout: float = 60
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        async for event in stream_events(client, task_id):
            if event["type"] == event_type:
                return event
    raise AssertionError(f"no {event_type} event on task {task_id}")


async def all_events(client: httpx.AsyncClient, task_id: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while True:
        response = await client.get(
            f"/v1/tasks/{task_id}/events", params={"after": len(events), "limit": 1000}
        )
        assert response.status_code == 200, response.text
        page = response.json()["events"]
        if not page:
            return events
        events += page


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, timeout=30
    ).stdout
