"""The CodexRuntime contract: what every runtime does, whatever runs its turns.

One suite, run against the ScriptedRuntime here (tests/unit/codex/test_runtime_contract.py)
and against the real app-server and exec runtimes with the real ``codex`` binary
(tests/acceptance/test_app_server_runtime.py, tests/acceptance/test_exec_runtime.py). A
test class subclasses :class:`RuntimeContract` and provides the ``under_test`` fixture.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from codex_runner.codex.runtime import CodexRuntime, ThreadOptions
from codex_runner.domain.events import EventKind, TurnStatus


@dataclass(frozen=True)
class RuntimeUnderTest:
    runtime: CodexRuntime  # started
    options: ThreadOptions
    greeting: str  # a prompt whose turn ends with one message
    reply: str  # that message
    slow: str  # a prompt whose turn starts, then runs until it is interrupted
    timeout_s: float = 60.0


class RuntimeContract:
    async def test_a_turn_on_a_new_thread_runs_to_completion(
        self, under_test: RuntimeUnderTest
    ) -> None:
        runtime = under_test.runtime
        thread = await runtime.start_thread(under_test.options)
        turn = await runtime.start_turn(thread.id, under_test.greeting)
        result = await turn.wait(under_test.timeout_s)
        assert result.status is TurnStatus.COMPLETED, result.error
        assert result.final_message == under_test.reply
        assert turn.done
        kinds = [event.kind async for event in turn.events()]
        assert kinds[-1] is EventKind.TURN_COMPLETED
        assert EventKind.ITEM_COMPLETED in kinds

    async def test_a_released_thread_resumes_under_its_id_and_runs_the_next_turn(
        self, under_test: RuntimeUnderTest
    ) -> None:
        runtime = under_test.runtime
        thread = await runtime.start_thread(under_test.options)
        first = await runtime.start_turn(thread.id, under_test.greeting)
        assert (await first.wait(under_test.timeout_s)).ok
        thread_id = first.thread_id  # Codex's id once the turn ran (exec starts provisional)
        await runtime.release_thread(thread_id)
        handle = await runtime.resume_thread(thread_id, under_test.options)
        assert handle.id == thread_id
        assert handle.replaced_thread_id is None
        second = await runtime.start_turn(handle.id, under_test.greeting)
        result = await second.wait(under_test.timeout_s)
        assert result.ok, result.error
        assert second.thread_id == thread_id

    async def test_interrupting_a_running_turn_ends_it_interrupted(
        self, under_test: RuntimeUnderTest
    ) -> None:
        runtime = under_test.runtime
        thread = await runtime.start_thread(under_test.options)
        turn = await runtime.start_turn(thread.id, under_test.slow)
        # Once Codex has started it: an app-server interrupt sent before turn/started is not
        # confirmed by codex 0.163, and the runtime then waits request_timeout_s for it.
        async with asyncio.timeout(under_test.timeout_s):
            async for event in turn.events():
                if event.kind is EventKind.TURN_STARTED:
                    break
        result = await turn.interrupt()
        assert result.status is TurnStatus.INTERRUPTED
        assert turn.done
        assert (await turn.interrupt()).status is TurnStatus.INTERRUPTED  # twice is harmless

    async def test_releasing_a_thread_never_raises(self, under_test: RuntimeUnderTest) -> None:
        runtime = under_test.runtime
        thread = await runtime.start_thread(under_test.options)
        turn = await runtime.start_turn(thread.id, under_test.greeting)
        assert (await turn.wait(under_test.timeout_s)).ok
        await runtime.release_thread(turn.thread_id)
        await runtime.release_thread(turn.thread_id)  # twice
        await runtime.release_thread("019a0000-0000-7000-8000-00000000dead")  # never opened
