"""turn/start settings: one turn's overrides, and the thread's own put back on the next turn
(Codex keeps a turn's override for the turns after it)."""

from __future__ import annotations

from pathlib import Path

from codex_runner.codex.app_server_threads import (
    ThreadState,
    opened_with,
    thread_params,
    turn_params,
)
from codex_runner.codex.runtime import ThreadOptions, TurnOptions
from codex_runner.config import CodexSettings


def state(**options: object) -> ThreadState:
    thread = ThreadOptions(cwd=Path("/w"), **options)  # type: ignore[arg-type]
    return ThreadState(
        thread, 1, opened_with={"model": "codex-default", "reasoningEffort": "medium"}
    )


def test_a_turn_without_overrides_after_none_sends_only_the_known_effort() -> None:
    settings = CodexSettings()
    assert turn_params(settings, state(), None) == {}
    assert turn_params(settings, state(effort="high"), None) == {"effort": "high"}


def test_overrides_hold_for_one_turn_and_the_threads_own_settings_return() -> None:
    settings = CodexSettings(sandbox="workspace-write", approval_policy="never")
    thread = state(model="task-model")
    overrides = TurnOptions(
        model="m2",
        effort="low",
        summary="detailed",
        sandbox="read-only",
        approval_policy="on-request",
        cwd=Path("/w/sub"),
        output_schema={"type": "object"},
    )
    first = turn_params(settings, thread, overrides)
    assert first == {
        "model": "m2",
        "effort": "low",
        "summary": "detailed",
        "sandboxPolicy": {"type": "readOnly"},
        "approvalPolicy": "on-request",
        "cwd": "/w/sub",
        "outputSchema": {"type": "object"},
    }
    second = turn_params(settings, thread, None)
    assert second == {
        "model": "task-model",
        "effort": "medium",  # neither task nor config names one: what Codex opened it with
        "summary": "auto",
        "sandboxPolicy": {"type": "workspaceWrite"},
        "approvalPolicy": "never",
        "cwd": "/w",
    }
    assert turn_params(settings, thread, None) == {}  # nothing left to put back


def test_thread_params_carry_the_session_options_and_ephemeral_only_at_start() -> None:
    options = ThreadOptions(
        cwd=Path("/w"),
        developer_instructions="d",
        base_instructions="b",
        personality="none",
        service_tier="fast",
        model_provider="local",
        config={"model_verbosity": "low"},
        ephemeral=True,
    )
    started = thread_params(CodexSettings(), options)
    assert started["developerInstructions"] == "d" and started["baseInstructions"] == "b"
    assert started["personality"] == "none" and started["serviceTier"] == "fast"
    assert started["modelProvider"] == "local" and started["config"] == {"model_verbosity": "low"}
    assert started["ephemeral"] is True
    assert "ephemeral" not in thread_params(CodexSettings(), options, starting=False)
    assert opened_with({"model": "m", "reasoningEffort": None, "cwd": "/w"}) == {"model": "m"}
    assert opened_with(None) == {}
