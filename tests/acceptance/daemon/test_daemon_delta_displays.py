"""The command line prints live deltas from the real Codex binary: `task submit --follow`
(through the daemon's event stream) and `run` (in-process) print the scripted answer as it
streams in pieces and not a second time when it completes, and command output as it comes;
`--no-deltas` prints completed items only; on a terminal (a pty) a spinner names the running
command, on a pipe nothing but plain lines."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from codex_runner.mockmodel import MockModelServer, Script

from .conftest import DAEMON_RULES, STREAMED_ANSWER, StartDaemon
from .harness import write_config

pytestmark = [pytest.mark.acceptance]

CLI = [sys.executable, "-m", "codex_runner"]
CLI_TIMEOUT_S = 120.0
SLOW_ANSWER = "Printed as it is written: one piece, then the next, then the last."
DISPLAY_RULES: list[dict[str, Any]] = [
    {
        "match": "answer slowly",
        "responses": [[{"message": SLOW_ANSWER, "deltas": 4, "delta_delay": 0.4}]],
    },
    {
        # Codex returns the output of a command's first moments with its completed item and
        # streams what comes later as deltas.
        "match": "output in pieces",
        "responses": [
            [{"shell": "echo first piece; sleep 1; echo second piece"}],
            [{"message": "output shown"}],
        ],
    },
]


@pytest.fixture
async def daemon_model() -> AsyncIterator[MockModelServer]:
    script = Script.from_dict({"rules": [*DISPLAY_RULES, *DAEMON_RULES]})
    async with MockModelServer(script, port=0) as server:
        yield server


@dataclass
class CliRun:
    code: int
    stdout: str
    stderr: str
    # stdout as it stood after each read: what a person watching would have seen, in turn.
    seen: list[str]


async def run_cli(*args: str, home: Path) -> CliRun:
    """The CLI as a subprocess with stdout on a pipe, read as it is written."""
    env = {**os.environ, "CODEX_RUNNER_HOME": str(home), "MOCK_API_KEY": "k"}
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None and proc.stderr is not None
    seen: list[str] = []
    out = b""
    try:
        async with asyncio.timeout(CLI_TIMEOUT_S):
            while chunk := await proc.stdout.read(4096):
                out += chunk
                seen.append(out.decode(errors="replace"))
            err = await proc.stderr.read()
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    return CliRun(code, out.decode(), err.decode(), seen)


def run_cli_on_a_terminal(*args: str, home: Path) -> str:
    """The CLI with a pseudo-terminal as its stdout and stderr; everything it wrote there.
    Blocking: run it in a thread (the scripted model shares the test's event loop)."""
    env = {**os.environ, "CODEX_RUNNER_HOME": str(home), "MOCK_API_KEY": "k", "COLUMNS": "120"}
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [*CLI, *args], stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env
    )
    os.close(terminal)
    written = b""
    deadline = time.monotonic() + CLI_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], deadline - time.monotonic())
            if not ready:
                break
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the CLI exited and closed its end
                break
            if not chunk:
                break
            written += chunk
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == 0, written.decode(errors="replace")
    return written.decode(errors="replace")


def partial_answers(run: CliRun, answer: str) -> list[str]:
    """The moments stdout ended in the middle of ``answer``: printed, not yet whole."""
    partial = []
    for shown in run.seen:
        _, found, text = shown.rpartition("codex: ")
        if found and text and answer.startswith(text) and len(text) < len(answer):
            partial.append(text)
    return partial


async def test_task_follow_prints_the_answer_as_it_streams_and_once(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    run = await run_cli(
        "task", "submit", "answer slowly", "--repo", str(repo), "--follow", home=daemon.home
    )
    assert run.code == 0, run.stderr
    assert partial_answers(run, SLOW_ANSWER), run.seen
    assert run.stdout.count(SLOW_ANSWER) == 1
    assert f"codex: {SLOW_ANSWER}\n" in run.stdout
    assert "completed" in run.stdout.splitlines()[-1]


async def test_task_follow_prints_command_output_as_it_comes(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    run = await run_cli(
        "task", "submit", "output in pieces", "--repo", str(repo), "--follow", home=daemon.home
    )
    assert run.code == 0, run.stderr
    lines = [line.rstrip() for line in run.stdout.splitlines()]
    # Streamed while the command ran, then what its completed item holds, each line once.
    assert lines.count("  second piece") == 1, run.stdout
    assert lines.count("  first piece") == 1, run.stdout
    (command,) = [n for n, line in enumerate(lines) if line.startswith("$ ")]
    assert "echo second piece" in lines[command]
    assert command < lines.index("  second piece") < lines.index("  exit 0 completed")


async def test_task_follow_without_deltas_prints_completed_items_only(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    run = await run_cli(
        "task",
        "submit",
        "answer slowly",
        "--repo",
        str(repo),
        "--follow",
        "--no-deltas",
        home=daemon.home,
    )
    assert run.code == 0, run.stderr
    assert "codex: " not in run.stdout
    assert not partial_answers(run, SLOW_ANSWER)
    assert run.stdout.count("one piece, then the next") == 1  # in the answer's panel


async def test_run_prints_the_answer_as_it_streams_and_once(
    daemon_model: MockModelServer, repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "run-home"
    write_config(home, daemon_model, service={}, codex={})
    run = await run_cli("run", "answer in pieces please", "--cwd", str(repo), home=home)
    assert run.code == 0, run.stderr
    assert partial_answers(run, STREAMED_ANSWER), run.seen
    assert run.stdout.count(STREAMED_ANSWER) == 1
    # A pipe gets plain lines: no spinner frame, no cursor movement.
    assert "\x1b" not in run.stdout


async def test_run_on_a_terminal_shows_a_spinner_with_the_running_command(
    daemon_model: MockModelServer, repo: Path, tmp_path: Path
) -> None:
    home = tmp_path / "run-home"
    write_config(home, daemon_model, service={}, codex={})
    shown = await asyncio.to_thread(
        run_cli_on_a_terminal, "run", "output in pieces", "--cwd", str(repo), home=home
    )
    spinner = shown.find("running $ ")
    assert spinner >= 0, shown
    assert "echo second piece" in shown[spinner : shown.find("\n", spinner)]
    # The spinner runs while the command does: its output streams above it, and it is gone
    # before the command's exit line and the answer.
    assert spinner < shown.index("  second piece") < shown.index("exit 0")
    assert "running $ " not in shown[shown.index("exit 0") :]
    assert "codex: " in shown and "output shown" in shown
