"""Fixtures for the daemon's acceptance tests: a scripted model, a repo, daemons to start."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from codex_runner.mockmodel import MockModelServer, Script

from ..conftest import RULES, wants_websockets
from .harness import Daemon, write_config

# Walks up from the command's shell to the `codex app-server` running it and kills it.
KILL_MY_APP_SERVER = (
    'p=$PPID; while [ "$p" -gt 1 ]; do '
    "if tr '\\0' ' ' < /proc/$p/cmdline | grep -q '^[^ ]*codex app-server'; then "
    "kill -9 $p; break; fi; "
    "p=$(awk '{print $4}' /proc/$p/stat); done"
)

STRUCTURED_REPLY = '{"verdict": "pass", "score": 7}'
STREAMED_ANSWER = "This answer arrives in six pieces, one after another, as it is written."

DAEMON_RULES: list[dict[str, Any]] = [
    # First: a graph parent's input quotes its children's prompts, which other rules match.
    {"match": "Results of the", "responses": [[{"echo": True}]]},
    *RULES,
    {"match": "quick", "responses": [[{"message": "quick done"}]]},
    # A turn long enough to kill its host under it; the host that takes the task over
    # continues it (a fresh thread carrying the earlier prompt) and is answered at once.
    {
        "regex": "Continue where you left off",
        "first_regex": "hold the line",
        "responses": [[{"message": "carried on"}]],
    },
    {"match": "hold the line", "responses": [[{"shell": "sleep 30"}], [{"message": "held"}]]},
    {
        "match": "write then break",
        "responses": [[{"shell": "echo wip > wip.txt"}], [{"http_error": 400}]],
    },
    {
        "match": "write then hold",
        "responses": [[{"shell": "echo wip > wip.txt && sleep 30"}], [{"message": "held"}]],
    },
    # Replies for turns with an output schema: one that matches it, one that does not.
    {"match": "grade it", "responses": [[{"message": STRUCTURED_REPLY}]]},
    {"match": "ramble", "responses": [[{"message": "I would rather not answer in JSON."}]]},
    {
        "match": "answer in pieces",
        "responses": [[{"message": STREAMED_ANSWER, "deltas": 6, "delta_delay": 0.1}]],
    },
    {
        "match": "write notes",
        "responses": [
            [{"write_file": {"path": "notes.txt", "content": "notes\n"}}],
            [{"message": "wrote notes"}],
        ],
    },
    # Kills the app-server running it (its own ancestor), every time: a poison task.
    # The runner retries a crashed turn with "Continue where you left off.": poison that too.
    {
        "regex": "poison|Continue where you left off",
        # Only the poison's own sessions: another task whose turn died with the app-server
        # is continued with the same words and must not turn into poison.
        "first_regex": "poison",
        "responses": [[{"shell": KILL_MY_APP_SERVER}], [{"message": "survived"}]],
    },
]

StartDaemon = Callable[..., Awaitable[Daemon]]


@pytest.fixture
async def daemon_model(request: pytest.FixtureRequest) -> AsyncIterator[MockModelServer]:
    script = Script.from_dict({"rules": DAEMON_RULES})
    async with MockModelServer(script, port=0, websockets=wants_websockets(request)) as server:
        yield server


@pytest.fixture
async def start_daemon(tmp_path: Path, daemon_model: MockModelServer) -> AsyncIterator[StartDaemon]:
    started: list[Daemon] = []

    async def start(
        *, service: dict[str, Any] | None = None, codex: dict[str, Any] | None = None
    ) -> Daemon:
        home = tmp_path / "home"
        write_config(
            home,
            daemon_model,
            service={"max_concurrent_tasks": 4, **(service or {})},
            codex={"sandbox": "workspace-write", "approval_policy": "never", **(codex or {})},
        )
        daemon = Daemon(home)
        started.append(daemon)
        await daemon.start()
        return daemon

    try:
        yield start
    finally:
        for daemon in started:
            daemon.stop()
