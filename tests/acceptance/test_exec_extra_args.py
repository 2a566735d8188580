"""``[codex.exec] extra_args`` reach the real ``codex exec`` and ``codex exec resume``."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.codex.exec_runtime import ExecRuntime
from codex_runner.codex.runtime import ThreadOptions
from codex_runner.mockmodel import MockModelServer

from .conftest import ConfigFactory

pytestmark = pytest.mark.acceptance

TURN_TIMEOUT = 60.0


async def test_an_allowed_config_flag_reaches_the_first_turn_and_the_resumed_one(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    # Codex asks for "auto" reasoning summaries unless told otherwise; the flag says
    # "detailed", which each request carries (not only the history a resume replays).
    extra = ["-c", 'model_reasoning_summary="detailed"', "--strict-config"]
    config = make_config(runtime="exec", exec={"extra_args": extra})
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        first = await (await runtime.start_turn(thread.id, "hello first")).wait(TURN_TIMEOUT)
        assert first.ok, first.error
        second = await (await runtime.start_turn(thread.id, "hello again")).wait(TURN_TIMEOUT)
        assert second.ok, second.error
    assert first.thread_id == second.thread_id
    asked = {r.last_user_text: r.body.get("reasoning") for r in model.requests}
    assert asked["hello first"] == {"summary": "detailed"}
    assert asked["hello again"] == {"summary": "detailed"}
