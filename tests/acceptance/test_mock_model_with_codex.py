"""The real ``codex`` binary against the scripted model server, in temporary homes and repos."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer, Script, load_builtin_script

pytestmark = pytest.mark.acceptance

SCRIPT: dict[str, Any] = {
    "rules": [
        {"name": "hello", "match": "hello", "responses": [[{"message": "Hi there"}]]},
        {
            "name": "make-file",
            "match": "create a file",
            "responses": [
                [{"shell": "echo hi > f.txt"}],
                [
                    {"write_file": {"path": "sub/q.txt", "content": 'it\'s "quoted" $HOME\n'}},
                    {"write_file": {"path": "raw.txt", "content": "no newline 'at' `end`"}},
                ],
                [{"message": "Created f.txt"}],
            ],
        },
        {
            "name": "patch",
            "match": "patch",
            "responses": [
                [{"apply_patch": "*** Add File: p.txt\n+patched\n"}],
                [{"message": "patched"}],
            ],
        },
        {"name": "boom", "match": "boom", "responses": [[{"http_error": 500}]]},
        {"name": "cut", "match": "cut", "responses": [[{"message": "partial"}, {"cut": True}]]},
        {"name": "echo", "responses": [[{"echo": True}]]},
    ]
}


def codex_binary() -> Path:
    import codex_cli_bin

    path = Path(codex_cli_bin.bundled_codex_path())
    if not path.is_file():
        pytest.skip(f"codex binary not found at {path}")
    return path


@dataclass(frozen=True)
class CodexRun:
    returncode: int
    events: list[dict[str, Any]]
    stderr: str

    def of_type(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == event_type]

    def items(self, item_type: str) -> list[dict[str, Any]]:
        return [e["item"] for e in self.of_type("item.completed") if e["item"]["type"] == item_type]


@dataclass(frozen=True)
class CodexSandbox:
    """A mock model server, a Codex home pointing at it and a git repository to work in."""

    server: MockModelServer
    home: Path
    repo: Path
    env: dict[str, str]

    async def exec(self, prompt: str, *, resume: bool = False) -> CodexRun:
        """Run one ``codex exec --json`` turn (``resume``: continue the last thread)."""
        args = ["exec", "resume", "--last"] if resume else ["exec"]
        args += ["--json", "--skip-git-repo-check"]
        if not resume:
            args += ["-s", "workspace-write", "-C", str(self.repo)]
        process = await asyncio.create_subprocess_exec(
            str(codex_binary()),
            *args,
            prompt,
            cwd=self.repo,
            env=self.env,
            stdin=subprocess.DEVNULL,  # an open stdin makes codex exec wait for more input
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(60):
                stdout, stderr = await process.communicate()
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        events = [json.loads(line) for line in stdout.decode().splitlines() if line.strip()]
        assert process.returncode is not None
        return CodexRun(process.returncode, events, stderr.decode())


MakeSandbox = Callable[[Script], Awaitable[CodexSandbox]]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    path.mkdir()
    subprocess.run(["git", "init", "-q", str(path)], check=True, timeout=30)
    return path


@pytest.fixture
async def sandbox(tmp_path: Path, repo: Path) -> AsyncIterator[MakeSandbox]:
    servers: list[MockModelServer] = []

    async def make(script: Script) -> CodexSandbox:
        server = MockModelServer(script, port=0)
        await server.start()
        servers.append(server)
        home = tmp_path / "codex-home"
        home.mkdir()
        (home / "config.toml").write_text(tomli_w.dumps(server.codex_config()))
        user_home = tmp_path / "user-home"
        user_home.mkdir()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(user_home),
            "CODEX_HOME": str(home),
            "MOCK_API_KEY": "x",
        }
        return CodexSandbox(server, home, repo, env)

    yield make
    for server in servers:
        await server.stop()


async def test_a_message_turn_shows_the_scripted_answer(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    run = await box.exec("hello")

    assert run.returncode == 0, run.stderr
    assert [m["text"] for m in run.items("agent_message")] == ["Hi there"]
    assert run.of_type("turn.completed")
    (recorded,) = box.server.requests
    # Codex also sends <environment_context> as a user message; the prompt is picked anyway.
    assert recorded.last_user_text == "hello"
    assert recorded.rule == "hello"
    assert recorded.body["stream"] is True


async def test_a_tool_turn_runs_commands_that_create_files(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    run = await box.exec("please create a file")

    assert run.returncode == 0, run.stderr
    commands = run.items("command_execution")
    assert [c["exit_code"] for c in commands] == [0, 0, 0]
    assert (box.repo / "f.txt").read_text() == "hi\n"
    assert (box.repo / "sub" / "q.txt").read_text() == 'it\'s "quoted" $HOME\n'
    assert (box.repo / "raw.txt").read_text() == "no newline 'at' `end`"
    assert [m["text"] for m in run.items("agent_message")] == ["Created f.txt"]
    requests = box.server.requests
    assert [(r.rule, r.response_index) for r in requests] == [
        ("make-file", 0),
        ("make-file", 1),
        ("make-file", 2),
    ]
    # The second response made two calls: one model call, two outputs.
    assert [len(r.tool_outputs) for r in requests] == [0, 1, 3]
    assert "Process exited with code 0" in requests[1].tool_outputs[0]


async def test_apply_patch_edits_files_without_an_advertised_tool(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    run = await box.exec("patch it")

    assert run.returncode == 0, run.stderr
    assert (box.repo / "p.txt").read_text() == "patched\n"
    assert run.items("file_change")
    assert "Success" in box.server.requests[1].tool_outputs[0]


async def test_an_http_500_makes_the_turn_fail_cleanly(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    run = await box.exec("boom")

    assert run.returncode != 0
    assert run.of_type("turn.failed")
    assert not run.of_type("turn.completed")
    # request_max_retries = 0: exactly one call, no retry storm.
    assert [r.rule for r in box.server.requests] == ["boom"]


async def test_a_cut_stream_fails_the_turn(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    run = await box.exec("cut")

    assert run.returncode != 0
    (failed,) = run.of_type("turn.failed")
    assert "stream disconnected" in failed["error"]["message"]


async def test_a_resumed_thread_sends_the_earlier_turn(sandbox: MakeSandbox) -> None:
    box = await sandbox(Script.from_dict(SCRIPT))

    first = await box.exec("first prompt")
    second = await box.exec("second prompt", resume=True)

    assert first.returncode == 0 and second.returncode == 0, second.stderr
    assert [m["text"] for m in second.items("agent_message")] == [
        'echo: second prompt\nearlier: ["first prompt"]'
    ]
    assert box.server.requests[-1].user_texts == ["first prompt", "second prompt"]


async def test_the_builtin_demo_script_drives_codex_exec(sandbox: MakeSandbox) -> None:
    box = await sandbox(load_builtin_script("demo"))

    run = await box.exec("run the demo")

    # codex exec never asks for approvals, so the escalated `touch` is refused; the
    # command and the file write still run and the turn ends with the summary.
    assert run.returncode == 0, run.stderr
    assert (box.repo / "hello.txt").read_text() == "Hello from codex-runner.\n"
    assert run.items("agent_message")[-1]["text"].startswith("Demo done")
    assert [r.response_index for r in box.server.requests] == [0, 1, 2, 3]
