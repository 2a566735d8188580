"""The real codex binary calling the scripted model over WebSockets.

With ``supports_websockets = true`` on the provider (as on Codex's own OpenAI provider),
Codex sends model calls as frames on one WebSocket per thread instead of one HTTP POST
each. Both runtimes must work on that transport, including a turn after the thread was
released and resumed (a new connection that must not rely on the old one's context).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.exec_runtime import ExecRuntime
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.mockmodel import MockModelServer

from .conftest import ConfigFactory

pytestmark = [pytest.mark.acceptance, pytest.mark.model_websockets]


def _all_over_websockets(model: MockModelServer) -> None:
    assert model.requests
    for request in model.requests:
        assert request.headers.get("Upgrade", "").lower() == "websocket", request.headers


async def test_app_server_turns_run_over_a_websocket_and_resume_after_release(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        first = await (await runtime.start_turn(thread.id, "create a file please")).wait(60)
        await runtime.release_thread(thread.id)
        await runtime.resume_thread(thread.id, ThreadOptions(cwd=repo))
        second = await (await runtime.start_turn(thread.id, "what did I say")).wait(60)

    assert first.ok, first.error
    assert (repo / "f.txt").read_text() == "created\n"
    assert second.ok, second.error
    assert "create a file please" in (second.final_message or "")
    assert second.usage.total_tokens > 0
    _all_over_websockets(model)
    assert [r.last_user_text for r in model.requests] == [
        "create a file please",
        "create a file please",
        "what did I say",
    ]


async def test_exec_turns_run_over_a_websocket(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    async with ExecRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        result = await (await runtime.start_turn(thread.id, "create a file please")).wait(60)

    assert result.ok, result.error
    assert result.final_message == "Created f.txt"
    _all_over_websockets(model)
