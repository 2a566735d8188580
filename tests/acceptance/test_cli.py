"""The codex-runner command line, run as a user would (a subprocess)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from .conftest import ConfigFactory
from .daemon.harness import Daemon, wait_event, write_config

pytestmark = pytest.mark.acceptance

CLI = [sys.executable, "-m", "codex_runner"]


async def _cli(
    *args: str, home: Path, extra_env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    env = {**os.environ, "CODEX_RUNNER_HOME": str(home), "MOCK_API_KEY": "k", **(extra_env or {})}
    proc = await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("runtime", ["app-server", "exec"])
async def test_run_streams_json_events_and_exits_zero(
    make_config: ConfigFactory, repo: Path, runtime: str
) -> None:
    config = make_config()
    code, out, err = await _cli(
        "run", "create a file", "--cwd", str(repo), "--runtime", runtime, "--json", home=config.home
    )
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert events[-1]["kind"] == "turn.completed"
    assert any(e.get("item", {}).get("type") == "command_execution" for e in events)
    assert (repo / "f.txt").exists()


async def test_a_failed_turn_exits_non_zero_with_one_line(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config()
    code, _, err = await _cli("run", "server error", "--cwd", str(repo), home=config.home)
    assert code == 1
    assert err.strip().count("\n") == 0 and "turn failed" in err


async def test_without_a_terminal_approvals_are_declined(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config()
    code, out, _ = await _cli(
        "run",
        "touch approved",
        "--cwd",
        str(repo),
        "--approval-policy",
        "untrusted",
        "--json",
        home=config.home,
    )
    kinds = [json.loads(line)["kind"] for line in out.splitlines()]
    assert "approval.requested" in kinds
    assert not (repo / "approved.txt").exists()
    code, out, _ = await _cli(
        "run",
        "touch approved",
        "--cwd",
        str(repo),
        "--approval-policy",
        "untrusted",
        "--approve",
        "accept",
        "--json",
        home=config.home,
    )
    assert code == 0 and (repo / "approved.txt").exists()


async def test_a_missing_binary_is_one_clear_line(make_config: ConfigFactory, repo: Path) -> None:
    config = make_config()
    code, _, err = await _cli(
        "run",
        "hello",
        "--cwd",
        str(repo),
        home=config.home,
        extra_env={"CODEX_RUNNER_CODEX_BIN": "/nope/codex"},
    )
    assert code != 0
    assert "codex binary not found at /nope/codex" in err


async def test_bad_configuration_names_the_key(tmp_path: Path, repo: Path) -> None:
    (tmp_path / "config.toml").write_text("[codex]\nturn_idle_timeout = 5\n")
    code, _, err = await _cli("run", "hello", "--cwd", str(repo), home=tmp_path)
    assert code == 2
    assert "codex.turn_idle_timeout" in err and "unknown key" in err


async def test_the_demo_runs_end_to_end(tmp_path: Path) -> None:
    code, out, err = await _cli("demo", home=tmp_path)
    assert code == 0, out + err
    assert "approval requested" in out and "demo completed" in out
    assert "hello.txt" in out and "approved.txt" in out


async def test_following_a_task_interrupted_from_elsewhere_exits_3_with_how_to_resume(
    tmp_path: Path, model: MockModelServer, repo: Path
) -> None:
    home = tmp_path / "home"
    write_config(home, model, service={}, codex={"approval_policy": "never"})
    daemon = Daemon(home)
    await daemon.start()
    try:
        async with daemon.client() as client:
            submitted = await client.post("/v1/tasks", json={"prompt": "slow", "cwd": str(repo)})
            task = submitted.json()
            follower = asyncio.create_task(daemon.cli("task", "logs", task["id"][:12], "--follow"))
            await wait_event(client, task["id"], "codex.turn.started")
            interrupted = await client.post(f"/v1/tasks/{task['id']}/interrupt")
            assert interrupted.status_code == 200, interrupted.text
            code, out, err = await asyncio.wait_for(follower, 60)
    finally:
        daemon.stop()
    assert code == 3, out + err
    assert "→ interrupted" in out
    assert err.strip().splitlines() == [
        f"task {task['id']} was interrupted (reason: interrupted by request); "
        f"resume it with: codex-runner task resume {task['id']}"
    ]


def _relative(path: Path) -> str:
    return os.path.relpath(path)


def _names(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


@pytest.mark.parametrize("runtime", ["app-server", "exec"])
async def test_run_continue_resumes_the_last_thread_run_used_in_that_directory(
    make_config: ConfigFactory, repo: Path, tmp_path: Path, model: MockModelServer, runtime: str
) -> None:
    config = make_config(runtime=runtime)
    other = tmp_path / "elsewhere"
    other.mkdir()
    code, _, err = await _cli(
        "run", "hello from the first run", "--cwd", str(repo), home=config.home
    )
    assert code == 0, err
    # Another directory's run does not become this directory's thread.
    code, _, err = await _cli("run", "hello next door", "--cwd", str(other), home=config.home)
    assert code == 0, err
    # A relative --cwd names the same directory once resolved.
    code, _, err = await _cli(
        "run",
        "what did I say",
        "--cwd",
        _relative(repo),
        "--continue",
        "--json",
        home=config.home,
    )
    assert code == 0, err
    request = next(r for r in model.requests if r.last_user_text == "what did I say")
    assert "hello from the first run" in request.user_texts
    assert "hello next door" not in request.user_texts
    # Nothing of the runner's is left in the user's directory.
    assert _names(repo) == [".git", "README.md"]


async def test_run_continue_where_nothing_ran_says_so(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config()
    code, out, err = await _cli("run", "hello", "--cwd", str(repo), "--continue", home=config.home)
    assert code == 2
    assert f"no earlier `run` in {repo}; run without --continue" in err
    assert out == ""
