"""The app-server runtime driving the real codex binary against the scripted model."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.approval_policies import fixed_decision
from codex_runner.codex.binary import bundled_path_dir, find_codex_binary
from codex_runner.codex.connection import AppServerConnection, unix_socket_launcher
from codex_runner.codex.errors import CodexBinaryNotFound, TransportClosed
from codex_runner.codex.home import child_environment, prepare_codex_home
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.runtime import ThreadOptions, Turn
from codex_runner.config import RunnerConfig
from codex_runner.domain.events import ApprovalRequest, EventKind, FailureClass, TurnStatus
from codex_runner.mockmodel import MockModelServer

from ..unit.codex.runtime_contract import RuntimeContract, RuntimeUnderTest
from .conftest import ConfigFactory
from .model_failures import ECHOED_KEY, UPSTREAM_MESSAGE, failing_model, unreachable_provider

pytestmark = pytest.mark.acceptance


async def _wait_for(turn: Turn, kind: EventKind) -> None:
    async for event in turn.events():
        if event.kind is kind:
            return
    raise AssertionError(f"turn ended without {kind}")


async def test_a_message_turn_completes(make_config: ConfigFactory, repo: Path) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "hello")
        result = await turn.wait(60)
    assert result.ok, result.error
    assert result.final_message == "Hi there"
    assert result.usage.total_tokens > 0
    kinds = [e.kind async for e in turn.events()]
    assert kinds[:2] == [EventKind.THREAD_STARTED, EventKind.TURN_STARTED]


async def test_a_tool_turn_creates_a_file(make_config: ConfigFactory, repo: Path) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "create a file please")
        result = await turn.wait(60)
    assert result.ok, result.error
    assert (repo / "f.txt").read_text() == "created\n"
    commands = [
        e.item async for e in turn.events() if e.kind is EventKind.ITEM_COMPLETED and e.item
    ]
    executed = [i for i in commands if i.command and "f.txt" in i.command]
    assert executed and executed[0].exit_code == 0


async def test_a_resumed_thread_sees_the_earlier_turn_across_a_restart(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    config = make_config()
    async with AppServerRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        assert (await (await runtime.start_turn(thread.id, "hello first")).wait(60)).ok
    async with AppServerRuntime(config) as runtime:  # a new app-server process
        handle = await runtime.resume_thread(thread.id, ThreadOptions(cwd=repo))
        assert handle.id == thread.id and handle.replaced_thread_id is None
        result = await (await runtime.start_turn(thread.id, "what did I say")).wait(60)
    assert result.ok, result.error
    assert "hello first" in (result.final_message or "")
    assert model.requests[-1].last_user_text == "what did I say"


async def test_a_released_thread_is_unloaded_and_resumes_with_its_history(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        assert (await (await runtime.start_turn(thread.id, "hello first")).wait(60)).ok
        assert thread.id in (await runtime.request("thread/loaded/list", {}))["data"]
        await runtime.release_thread(thread.id)
        # Codex unloads it soon after (thread_unload_delay_secs = 0 in the headless defaults).
        for _ in range(200):  # Codex's state, polled: at most 10 s
            if thread.id not in (await runtime.request("thread/loaded/list", {}))["data"]:
                break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("Codex kept the released thread loaded")
        handle = await runtime.resume_thread(thread.id, ThreadOptions(cwd=repo))
        assert handle.id == thread.id and handle.replaced_thread_id is None
        result = await (await runtime.start_turn(thread.id, "what did I say")).wait(60)
    assert result.ok, result.error
    assert "hello first" in (result.final_message or "")
    assert model.requests[-1].last_user_text == "what did I say"


async def test_a_lost_thread_is_replaced_and_says_so(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        missing = "019a0000-0000-7000-8000-000000000000"
        handle = await runtime.resume_thread(
            missing, ThreadOptions(cwd=repo), context="earlier: we fixed bug 7"
        )
        assert handle.replaced_thread_id == missing and handle.id != missing
        turn = await runtime.start_turn(handle.id, "what did I say")
        result = await turn.wait(60)
    assert result.ok
    first = await anext(turn.events())
    assert first.kind is EventKind.THREAD_REPLACED
    assert "earlier: we fixed bug 7" in (result.final_message or "")


async def test_steer_adds_input_to_the_running_turn(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "long job")
        await _wait_for(turn, EventKind.ITEM_STARTED)
        await turn.steer("steer-extra")
        result = await turn.wait(60)
    assert result.ok, result.error
    assert any(r.last_user_text == "steer-extra" for r in model.requests)
    assert result.final_message == "steered: extra seen"
    assert EventKind.TURN_STEERED in [e.kind async for e in turn.events()]


async def test_interrupt_ends_a_delayed_turn(make_config: ConfigFactory, repo: Path) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "slow please")
        await _wait_for(turn, EventKind.TURN_STARTED)
        result = await turn.interrupt()
        assert result.status is TurnStatus.INTERRUPTED
        # The thread stays usable.
        assert (await (await runtime.start_turn(thread.id, "hello again")).wait(60)).ok


def _long_commands() -> list[int]:
    """The processes of the "run the long command" rule's command."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "cmdline").read_bytes() == b"sleep\x0061.25\x00":
                    found.append(int(entry.name))
    return found


async def test_interrupt_ends_the_command_the_turn_was_running(
    make_config: ConfigFactory, repo: Path
) -> None:
    """Codex's own interrupt leaves a running command going; the runner's ends it."""
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "run the long command")
        await _wait_for(turn, EventKind.ITEM_STARTED)
        channel = turn.channel  # type: ignore[attr-defined]
        listing = {"threadId": thread.id}
        for _ in range(200):
            # Until Codex stops waiting for the command's first output and lists it as a
            # background terminal: an interrupt before that ends it in Codex too.
            terminals = await channel.request("thread/backgroundTerminals/list", listing)
            if terminals["data"]:
                break
            await asyncio.sleep(0.05)
        assert _long_commands(), "the turn's command did not start"
        result = await turn.interrupt()
        assert result.status is TurnStatus.INTERRUPTED
        for _ in range(100):  # ended asynchronously, by Codex
            if not _long_commands():
                break
            await asyncio.sleep(0.05)
        assert _long_commands() == []


async def test_one_approval_accepted_and_one_declined(
    make_config: ConfigFactory, repo: Path
) -> None:
    asked: list[ApprovalRequest] = []

    async def decide(request: ApprovalRequest) -> str:
        asked.append(request)
        if "approved" in (request.command or ""):
            return "accept"
        # Codex 0.163 offers no "decline" for commands; "cancel" also ends the turn.
        return "decline" if "decline" in request.available_decisions else "cancel"

    config = make_config(approval_policy="untrusted", sandbox="workspace-write")
    async with AppServerRuntime(config, approvals=decide) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        ok = await (await runtime.start_turn(thread.id, "touch approved")).wait(60)
        no = await (await runtime.start_turn(thread.id, "touch declined")).wait(60)
    assert ok.ok
    assert no.status in (TurnStatus.COMPLETED, TurnStatus.INTERRUPTED)
    assert len(asked) == 2 and "accept" in asked[0].available_decisions
    assert (repo / "approved.txt").exists()
    assert not (repo / "declined.txt").exists()


async def test_a_killed_app_server_fails_the_turn_restarts_and_runs_the_next(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        turn = await runtime.start_turn(thread.id, "slow please")
        await _wait_for(turn, EventKind.TURN_STARTED)
        pid = runtime.status().pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        result = await turn.wait(30)
        assert result.status is TurnStatus.FAILED and result.error is not None
        assert result.error.failure_class is FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED
        await runtime.wait_for_state("ready", timeout=30)
        assert runtime.status().pid != pid and runtime.status().restarts == 1
        nxt = await (await runtime.start_turn(thread.id, "hello after crash")).wait(60)
        assert nxt.ok, nxt.error


@pytest.mark.parametrize("prompt", ["server error", "cut stream"])
async def test_a_model_failure_fails_the_turn_with_a_clear_error(
    make_config: ConfigFactory, repo: Path, prompt: str
) -> None:
    async with AppServerRuntime(make_config()) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        result = await (await runtime.start_turn(thread.id, prompt)).wait(60)
    assert result.status is TurnStatus.FAILED
    assert result.error is not None and result.error.message


async def test_the_watchdog_ends_a_turn_that_never_completes(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with AppServerRuntime(make_config(turn_idle_timeout_s=2)) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        result = await (await runtime.start_turn(thread.id, "hang forever")).wait(60)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT


async def test_a_missing_codex_binary_is_a_clear_error(make_config: ConfigFactory) -> None:
    runtime = AppServerRuntime(make_config(bin="/nonexistent/codex"))
    with pytest.raises(CodexBinaryNotFound, match=r"/nonexistent/codex.*CODEX_RUNNER_CODEX_BIN"):
        await runtime.start()
    await runtime.close()


async def test_decisions_can_come_from_a_fixed_policy(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config(approval_policy="untrusted")
    async with AppServerRuntime(config, approvals=fixed_decision("accept")) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        assert (await (await runtime.start_turn(thread.id, "touch approved")).wait(60)).ok
    assert (repo / "approved.txt").exists()


async def test_a_model_http_500_fails_the_turn_naming_the_status(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with failing_model() as failing:
        config = make_config(config=failing.codex_config())
        async with AppServerRuntime(config) as runtime:
            thread = await runtime.start_thread(ThreadOptions(cwd=repo))
            result = await (await runtime.start_turn(thread.id, "server error")).wait(60)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.http_status == 500
    assert "HTTP 500 Internal Server Error" in result.error.message
    # Codex 0.163 passes no body on for a 500, so none can leak either.
    assert ECHOED_KEY not in result.error.message


async def test_a_model_http_error_keeps_its_body_without_the_key_it_echoes(
    make_config: ConfigFactory, repo: Path
) -> None:
    async with failing_model() as failing:
        config = make_config(config=failing.codex_config())
        async with AppServerRuntime(config) as runtime:
            thread = await runtime.start_thread(ThreadOptions(cwd=repo))
            turn = await runtime.start_turn(thread.id, "bad gateway")
            result = await turn.wait(60)
            events = [e async for e in turn.events()]
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.http_status == 502
    assert "502 Bad Gateway" in result.error.message
    assert UPSTREAM_MESSAGE in result.error.message
    assert ECHOED_KEY not in str([e.to_dict() for e in events])


async def test_an_unreachable_provider_fails_the_quiet_turn_naming_the_connection_error(
    make_config: ConfigFactory, repo: Path, model: MockModelServer
) -> None:
    config = make_config(config=unreachable_provider(model), turn_idle_timeout_s=3)
    async with AppServerRuntime(config) as runtime:
        thread = await runtime.start_thread(ThreadOptions(cwd=repo))
        result = await (await runtime.start_turn(thread.id, "hello")).wait(60)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert "no event from Codex for 3s" in result.error.message
    assert "; last error: " in result.error.message
    assert "error sending request" in result.error.message


@contextlib.asynccontextmanager
async def _listening_app_server(config: RunnerConfig) -> AsyncIterator[Path]:
    """``codex app-server --listen unix://PATH`` on ``config``'s Codex home; yields PATH."""
    # A short directory: a Unix socket's path is limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="cr-sock-", dir="/tmp"))
    socket_path = directory / "app-server.sock"
    child = await ChildProcess.spawn(
        [
            str(find_codex_binary(config.codex.bin)),
            "app-server",
            "--listen",
            f"unix://{socket_path}",
        ],
        env=child_environment(config, bundled_path_dir()),
        cwd=prepare_codex_home(config),
    )
    try:
        async with asyncio.timeout(30):
            while not socket_path.exists():  # Codex's own start-up, polled
                if child.returncode is not None:
                    raise AssertionError(
                        f"the listening app-server exited: {child.describe_exit()}"
                    )
                await asyncio.sleep(0.02)
        yield socket_path
    finally:
        await child.terminate(3.0)
        shutil.rmtree(directory, ignore_errors=True)


async def test_a_turn_runs_over_a_unix_socket_to_a_running_app_server(
    make_config: ConfigFactory, repo: Path
) -> None:
    config = make_config()
    async with _listening_app_server(config) as socket_path:
        launcher = unix_socket_launcher(socket_path, config)
        async with AppServerRuntime(config, launcher=launcher) as runtime:
            assert runtime.status().pid is None  # the runner does not own that process
            thread = await runtime.start_thread(ThreadOptions(cwd=repo))
            result = await (await runtime.start_turn(thread.id, "hello")).wait(60)
    assert result.ok, result.error
    assert result.final_message == "Hi there"


async def test_connecting_to_a_socket_nobody_listens_on_names_the_path_and_the_fix(
    make_config: ConfigFactory, tmp_path: Path
) -> None:
    config = make_config()
    missing = tmp_path / "nobody.sock"
    with pytest.raises(TransportClosed, match="codex app-server --listen unix://"):
        await AppServerConnection(unix_socket_launcher(missing, config)).open()


class TestAppServerRuntimeContract(RuntimeContract):
    @pytest.fixture
    async def under_test(
        self, make_config: ConfigFactory, repo: Path
    ) -> AsyncIterator[RuntimeUnderTest]:
        async with AppServerRuntime(make_config()) as runtime:
            yield RuntimeUnderTest(
                runtime,
                ThreadOptions(cwd=repo),
                greeting="hello",
                reply="Hi there",
                slow="slow please",
            )
