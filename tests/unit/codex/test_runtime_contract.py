"""The CodexRuntime contract run against the ScriptedRuntime shipped for tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codex_runner.codex.runtime import ThreadOptions, TurnRecorder
from codex_runner.codex.scripted import Script, ScriptedRuntime, complete
from codex_runner.domain.events import CodexEvent, EventKind

from .runtime_contract import RuntimeContract, RuntimeUnderTest


async def _runs_until_interrupted(rt: ScriptedRuntime, rec: TurnRecorder, text: str) -> None:
    rec.emit(CodexEvent(EventKind.TURN_STARTED, thread_id=rec.thread_id))
    await asyncio.Event().wait()


def _script(text: str) -> Script:
    return _runs_until_interrupted if text == "slow" else complete


class TestScriptedRuntime(RuntimeContract):
    @pytest.fixture
    async def under_test(self, tmp_path: Path) -> AsyncIterator[RuntimeUnderTest]:
        runtime = ScriptedRuntime(_script)
        await runtime.start()
        try:
            yield RuntimeUnderTest(
                runtime,
                ThreadOptions(cwd=tmp_path),
                greeting="hello",
                reply="done: hello",
                slow="slow",
                timeout_s=5.0,
            )
        finally:
            await runtime.close()
