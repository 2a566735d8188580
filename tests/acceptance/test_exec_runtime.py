"""The exec runtime driving the real codex binary (``codex exec --json``) against the
scripted model. Fixtures (``model``, ``repo``, ``make_config``) come from conftest.py."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codex_runner.codex.errors import (
    CodexBinaryNotFound,
    CodexError,
    TurnBusy,
    UnsupportedOperation,
)
from codex_runner.codex.exec_runtime import ExecRuntime
from codex_runner.codex.exec_turn import ExecTurn, stop_child
from codex_runner.codex.process import ChildProcess, PidRegistry
from codex_runner.codex.runtime import ThreadOptions, Turn
from codex_runner.domain.events import CodexEvent, EventKind, FailureClass, TurnStatus
from codex_runner.mockmodel import MockModelServer

from ..unit.codex.runtime_contract import RuntimeContract, RuntimeUnderTest
from .conftest import ConfigFactory
from .model_failures import ECHOED_KEY, UPSTREAM_MESSAGE, failing_model, unreachable_provider

pytestmark = pytest.mark.acceptance

TURN_TIMEOUT = 60.0


async def _started_slow_turn(runtime: ExecRuntime, repo: Path) -> tuple[ExecTurn, int]:
    """A turn whose model call lasts a minute, once Codex has started it; with codex's pid."""
    thread = await runtime.start_thread(ThreadOptions(cwd=repo))
    turn = await runtime.start_turn(thread.id, "slow please")
    await _wait_for(turn, EventKind.TURN_STARTED)
    pid = runtime.status().pid
    assert pid is not None
    return turn, pid


async def _wait_for(turn: Turn, kind: EventKind, timeout: float = 30.0) -> CodexEvent:
    async def scan() -> CodexEvent:
        async for event in turn.events():
            if event.kind is kind:
                return event
        raise AssertionError(f"turn ended without {kind}")

    return await asyncio.wait_for(scan(), timeout)


async def _events(turn: Turn) -> list[CodexEvent]:
    return [e async for e in turn.events()]  # the turn is done: this ends at once


async def _group_gone(pid: int, timeout: float = 10.0) -> bool:
    """True once no process of the child's group (codex and its shells) is left. Killed
    grandchildren linger briefly as zombies until init reaps them, hence the polling."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        if asyncio.get_running_loop().time() > deadline:
            return False
        await asyncio.sleep(0.05)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


async def test_a_message_turn_completes(make_config: ConfigFactory, repo: Path) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        status = runtime.status()
        assert status.state == "ready" and status.pid is None
        assert status.codex_version and status.codex_version[0].isdigit()
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "hello")
        result = await turn.wait(TURN_TIMEOUT)
        assert runtime.status().pid is None  # the process is gone with its turn
    assert result.ok, result.error
    assert result.final_message == "Hi there"
    assert result.usage.total_tokens > 0
    # The provisional id gives way to the real Codex thread id.
    assert thread.id.startswith("exec-") and _is_uuid(result.thread_id)
    assert turn.thread_id == result.thread_id
    events = await _events(turn)
    kinds = [e.kind for e in events if e.kind is not EventKind.WARNING]
    assert kinds[:2] == [EventKind.THREAD_STARTED, EventKind.TURN_STARTED]
    assert kinds[-1] is EventKind.TURN_COMPLETED
    started = next(e for e in events if e.kind is EventKind.THREAD_STARTED)
    assert started.thread_id == result.thread_id
    assert started.data["provisional_thread_id"] == thread.id


async def test_a_tool_turn_creates_a_file(make_config: ConfigFactory, repo: Path) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "create a file please")
        result = await turn.wait(TURN_TIMEOUT)
    assert result.ok, result.error
    assert (repo / "f.txt").read_text() == "created\n"
    items = [e.item for e in await _events(turn) if e.kind is EventKind.ITEM_COMPLETED and e.item]
    executed = [i for i in items if i.command and "f.txt" in i.command]
    assert executed and executed[0].exit_code == 0 and executed[0].status == "completed"
    assert result.final_message == "Created f.txt"


async def test_the_next_turn_resumes_the_same_thread(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    config = make_config(runtime="exec")
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        first = await (await runtime.start_turn(thread.id, "hello first")).wait(TURN_TIMEOUT)
        assert first.ok, first.error
        # Either id names the thread: the provisional one and the real one.
        second_turn = await runtime.start_turn(thread.id, "what did I say")
        second = await second_turn.wait(TURN_TIMEOUT)
        # Resuming a thread this runtime already runs keeps its one state.
        handle = await runtime.resume_thread(first.thread_id, ThreadOptions(cwd=repo))
        assert handle.id == first.thread_id
        third = await (await runtime.start_turn(first.thread_id, "hello third")).wait(TURN_TIMEOUT)
    assert second.ok and third.ok, (second.error, third.error)
    assert first.thread_id == second.thread_id == third.thread_id
    request = next(r for r in model.requests if r.last_user_text == "what did I say")
    assert "hello first" in request.user_texts
    assert "hello first" in (second.final_message or "")
    # Exec reports the thread's running total; each turn gets its own share.
    assert 0 < third.usage.input_tokens < first.usage.input_tokens * 2
    # Only the thread's first turn announces it.
    assert EventKind.THREAD_STARTED not in [e.kind for e in await _events(second_turn)]


async def test_a_released_thread_resumes_with_its_usage_baseline(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config(runtime="exec")
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        first = await (await runtime.start_turn(thread.id, "hello first")).wait(TURN_TIMEOUT)
        assert first.ok, first.error
        await runtime.release_thread(thread.id)  # by the provisional id: forgets both ids
        with pytest.raises(CodexError, match="call resume_thread first"):
            await runtime.start_turn(first.thread_id, "too early")
        await runtime.resume_thread(first.thread_id, ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(first.thread_id, "what did I say")
        second = await turn.wait(TURN_TIMEOUT)
    assert second.ok, second.error
    assert second.thread_id == first.thread_id
    # Measured from the remembered total: this turn's share, not the thread's running total.
    assert 0 < second.usage.input_tokens < first.usage.input_tokens * 2
    usage = [e for e in await _events(turn) if e.kind is EventKind.TOKEN_USAGE]
    assert usage and (usage[-1].data or {}).get("baseline_known") is True


async def test_a_thread_resumes_in_a_new_runtime(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    config = make_config(runtime="exec")
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        first = await (await runtime.start_turn(thread.id, "hello before")).wait(TURN_TIMEOUT)
        assert first.ok, first.error
    async with ExecRuntime(config) as runtime:
        handle = await runtime.resume_thread(first.thread_id, ThreadOptions(cwd=repo))
        assert handle.id == first.thread_id and handle.replaced_thread_id is None
        turn = await runtime.start_turn(handle.id, "what did I say")
        result = await turn.wait(TURN_TIMEOUT)
    assert result.ok, result.error
    assert result.thread_id == first.thread_id
    assert "hello before" in (result.final_message or "")
    kinds = [e.kind for e in await _events(turn) if e.kind is not EventKind.WARNING]
    assert kinds[0] is EventKind.THREAD_RESUMED


async def test_a_lost_thread_is_replaced_and_says_so(
    make_config: ConfigFactory, repo: Path
) -> None:
    missing = "019a0000-0000-7000-8000-000000000000"
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        handle = await runtime.resume_thread(
            missing, ThreadOptions(cwd=repo), context="earlier: we fixed bug 7"
        )
        turn = await runtime.start_turn(handle.id, "what did I say")
        result = await turn.wait(TURN_TIMEOUT)
        # The old id keeps naming the (replaced) thread in this runtime.
        again = await (await runtime.start_turn(missing, "hello again")).wait(TURN_TIMEOUT)
    assert result.ok, result.error
    assert result.thread_id != missing and _is_uuid(result.thread_id)
    assert "earlier: we fixed bug 7" in (result.final_message or "")
    replaced = [e for e in await _events(turn) if e.kind is EventKind.THREAD_REPLACED]
    assert len(replaced) == 1 and replaced[0].data["replaced_thread_id"] == missing
    assert "no rollout found" in replaced[0].data["reason"]
    assert again.ok and again.thread_id == result.thread_id


async def test_interrupt_ends_a_delayed_turn_and_reaps_codex(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        turn, pid = await _started_slow_turn(runtime, repo)
        result = await asyncio.wait_for(turn.interrupt(), 30)
        assert result.status is TurnStatus.INTERRUPTED
        assert await _group_gone(pid) and runtime.status().pid is None
        # The thread stays usable.
        nxt = await (await runtime.start_turn(turn.thread_id, "hello again")).wait(TURN_TIMEOUT)
        assert nxt.ok, nxt.error
        assert nxt.thread_id == result.thread_id


async def test_steer_is_unsupported_and_a_busy_thread_refuses_a_second_turn(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "slow please")
        await _wait_for(turn, EventKind.TURN_STARTED)
        with pytest.raises(UnsupportedOperation, match="app-server"):
            await turn.steer("steer-extra")
        with pytest.raises(TurnBusy):
            await runtime.start_turn(thread.id, "hello")
        assert (await asyncio.wait_for(turn.interrupt(), 30)).status is TurnStatus.INTERRUPTED


@pytest.mark.parametrize(
    ("prompt", "failure_class"),
    [
        ("server error", FailureClass.MODEL_ERROR),
        ("cut stream", FailureClass.MODEL_STREAM_DISCONNECTED),
    ],
)
async def test_a_model_failure_fails_the_turn_with_a_clear_error(
    make_config: ConfigFactory, repo: Path, prompt: str, failure_class: FailureClass
) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, prompt)
        result = await turn.wait(TURN_TIMEOUT)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is failure_class
    # Codex's own words, not a generic "process exited".
    assert len(result.error.message) > 20 and "exited" not in result.error.message
    assert EventKind.ERROR in [e.kind for e in await _events(turn)]


async def test_the_watchdog_stops_a_silent_turn(make_config: ConfigFactory, repo: Path) -> None:
    async with ExecRuntime(make_config(runtime="exec", turn_idle_timeout_s=2)) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "hang forever")
        await _wait_for(turn, EventKind.TURN_STARTED)
        pid = runtime.status().pid
        assert pid is not None
        result = await turn.wait(TURN_TIMEOUT)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert await _group_gone(pid)


async def test_close_stops_running_turns(make_config: ConfigFactory, repo: Path) -> None:
    runtime = ExecRuntime(make_config(runtime="exec"))
    await runtime.start()
    turn, pid = await _started_slow_turn(runtime, repo)
    await asyncio.wait_for(runtime.close(), 30)
    result = await turn.wait(1)
    assert result.status is TurnStatus.INTERRUPTED
    assert await _group_gone(pid)
    assert runtime.status().state == "closed"
    with pytest.raises(CodexError, match="closed"):
        await runtime.start_turn(turn.thread_id, "hello")


async def test_an_approval_policy_is_forced_to_never_with_a_warning(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config(runtime="exec", approval_policy="untrusted")
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "touch approved")
        result = await turn.wait(TURN_TIMEOUT)
        assert any("approval" in w for w in runtime.status().warnings)
    assert result.ok, result.error
    assert (repo / "approved.txt").exists()  # ran without asking
    warnings = [e for e in await _events(turn) if e.kind is EventKind.WARNING]
    assert any("'never'" in (w.message or "") for w in warnings)


async def test_a_missing_codex_binary_is_a_clear_error(make_config: ConfigFactory) -> None:
    runtime = ExecRuntime(make_config(runtime="exec", bin="/nonexistent/codex"))
    with pytest.raises(CodexBinaryNotFound, match="/nonexistent/codex"):
        await runtime.start()
    assert runtime.status().state == "stopped"
    await runtime.close()


async def test_a_cancelled_caller_leaves_the_process_to_the_runtime(
    make_config: ConfigFactory, repo: Path
) -> None:
    turns: list[Turn] = []
    started = asyncio.Event()

    async def caller(runtime: ExecRuntime, thread_id: str) -> None:
        turn = await runtime.start_turn(thread_id, "slow please")
        turns.append(turn)
        await _wait_for(turn, EventKind.TURN_STARTED)
        started.set()
        await turn.wait(TURN_TIMEOUT)

    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        task = asyncio.create_task(caller(runtime, thread.id))
        await asyncio.wait_for(started.wait(), 30)
        pid = runtime.status().pid
        assert pid is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not turns[0].done  # the runtime still owns the turn and its process
    result = await turns[0].wait(1)  # close() ended it
    assert result.status is TurnStatus.INTERRUPTED
    assert await _group_gone(pid)


async def test_a_cancelled_turn_task_still_reaps_codex(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "slow please")
        await _wait_for(turn, EventKind.TURN_STARTED)
        pid = runtime.status().pid
        assert pid is not None and turn.task is not None
        turn.task.cancel()  # as when the event loop shuts down under the runtime
        result = await turn.wait(30)
        assert result.status is TurnStatus.INTERRUPTED
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(turn.task, 30)
        assert await _group_gone(pid)


async def test_a_provisional_id_from_an_earlier_runtime_starts_a_fresh_thread(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config(runtime="exec")
    async with ExecRuntime(config) as runtime:
        provisional = (await runtime.start_thread(ThreadOptions(cwd=repo))).id
    async with ExecRuntime(config) as runtime:  # the thread never ran a turn
        await runtime.resume_thread(provisional, ThreadOptions(cwd=repo), context="we said hi")
        turn = await runtime.start_turn(provisional, "what did I say")
        result = await turn.wait(TURN_TIMEOUT)
    assert result.ok, result.error
    assert _is_uuid(result.thread_id) and "we said hi" in (result.final_message or "")
    replaced = [e for e in await _events(turn) if e.kind is EventKind.THREAD_REPLACED]
    assert len(replaced) == 1 and replaced[0].data["replaced_thread_id"] == provisional


async def test_stop_child_escalates_when_sigint_is_ignored(tmp_path: Path) -> None:
    """Codex normally stops on SIGINT; a process that does not still ends (SIGTERM)."""
    child = await ChildProcess.spawn(
        ["/bin/sh", "-c", "trap '' INT; echo ready; sleep 60 & wait"],
        env={"PATH": "/usr/bin:/bin"},
        registry=PidRegistry(tmp_path / "run"),
        stdin_devnull=True,
    )
    assert child.proc.stdout is not None
    assert await asyncio.wait_for(child.proc.stdout.readline(), 10) == b"ready\n"
    await asyncio.wait_for(stop_child(child, grace=0.5), 30)
    assert child.returncode is not None and child.returncode != 0
    assert await _group_gone(child.pid)
    assert not list((tmp_path / "run").glob("codex-*.json"))


async def test_a_killed_codex_fails_the_turn_and_the_thread_goes_on(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with ExecRuntime(make_config(runtime="exec")) as runtime:
        turn, pid = await _started_slow_turn(runtime, repo)
        os.kill(pid, signal.SIGKILL)
        result = await turn.wait(30)
        assert result.status is TurnStatus.FAILED and result.error is not None
        assert result.error.failure_class is FailureClass.PROCESS_EXITED
        assert "killed by signal 9" in result.error.message
        assert runtime.status().last_error == result.error.message
        nxt = await (await runtime.start_turn(turn.thread_id, "hello after")).wait(TURN_TIMEOUT)
        assert nxt.ok, nxt.error


async def test_a_model_http_500_fails_the_turn_naming_the_status(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with failing_model() as failing:
        config = make_config(runtime="exec", config=failing.codex_config())
        async with ExecRuntime(config) as runtime:
            thread = await runtime.start_thread(ThreadOptions(cwd=repo))
            result = await (await runtime.start_turn(thread.id, "server error")).wait(TURN_TIMEOUT)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.http_status == 500
    assert "HTTP 500 Internal Server Error" in result.error.message


async def test_a_model_http_error_keeps_its_body_without_the_key_it_echoes(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with failing_model() as failing:
        config = make_config(runtime="exec", config=failing.codex_config())
        async with ExecRuntime(config) as runtime:
            thread = await runtime.start_thread(ThreadOptions(cwd=repo))
            turn = await runtime.start_turn(thread.id, "bad gateway")
            result = await turn.wait(TURN_TIMEOUT)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.http_status == 502
    assert "502 Bad Gateway" in result.error.message
    assert UPSTREAM_MESSAGE in result.error.message
    assert ECHOED_KEY not in str([e.to_dict() for e in await _events(turn)])


async def test_an_unreachable_provider_fails_the_quiet_turn_naming_the_connection_error(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    config = make_config(runtime="exec", config=unreachable_provider(model), turn_idle_timeout_s=3)
    async with ExecRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        result = await (await runtime.start_turn(thread.id, "hello")).wait(TURN_TIMEOUT)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert "no output from codex exec for 3s" in result.error.message
    assert "; last error: " in result.error.message
    assert "error sending request" in result.error.message


class TestExecRuntimeContract(RuntimeContract):
    @pytest.fixture
    async def under_test(
        self, make_config: ConfigFactory, repo: Path
    ) -> AsyncIterator[RuntimeUnderTest]:
        async with ExecRuntime(make_config(runtime="exec")) as runtime:
            yield RuntimeUnderTest(
                runtime,
                ThreadOptions(cwd=repo),
                greeting="hello",
                reply="Hi there",
                slow="slow please",
            )
