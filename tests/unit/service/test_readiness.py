"""Readiness: one reason per failing check, none when every part is up."""

from __future__ import annotations

from codex_runner.codex.runtime import RuntimeStatus
from codex_runner.service.readiness import NotReady, readiness_problems


def test_a_started_daemon_is_ready() -> None:
    runtime = RuntimeStatus(kind="app-server", state="ready")
    assert readiness_problems(store_open=True, runtime=runtime, home_problem=None) == []


def test_each_failing_check_gives_its_own_reason() -> None:
    runtime = RuntimeStatus(kind="app-server", state="restarting", last_error="codex exited 9")
    problems = readiness_problems(store_open=False, runtime=runtime, home_problem="home gone")
    assert [p.check for p in problems] == ["store", "codex", "home"]
    assert problems[1] == NotReady(
        "codex", "the Codex runtime is restarting, not ready: codex exited 9"
    )
    assert problems[2].reason == "home gone"


def test_a_runtime_not_made_yet_is_not_ready() -> None:
    problems = readiness_problems(store_open=True, runtime=None, home_problem=None)
    assert [p.check for p in problems] == ["codex"]
