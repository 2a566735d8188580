"""Codex's warnings are reported once per daemon process; a turn that goes quiet fails
naming the last error Codex reported before it."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.reported_warnings import ReportedWarnings
from codex_runner.codex.runtime import ThreadOptions, Turn, TurnRecorder
from codex_runner.codex.transport import Transport
from codex_runner.config import load_config
from codex_runner.domain.events import CodexEvent, ErrorInfo, EventKind, FailureClass, TurnStatus

BWRAP = (
    "\x1b[31mCodex could not find bubblewrap on PATH.\x1b[0m Install bubblewrap with your OS "
    "package manager."
)
UNREACHABLE = {
    "message": "Reconnecting... waiting for network",
    "codexErrorInfo": {"responseStreamDisconnected": {"httpStatusCode": None}},
    "additionalDetails": "Connection failed: error sending request",
}


def test_a_warning_is_logged_once_at_warning_level(caplog: pytest.LogCaptureFixture) -> None:
    reported = ReportedWarnings()
    with caplog.at_level(logging.DEBUG, logger="codex_runner.codex.reported_warnings"):
        first = reported.report(BWRAP)
        again = reported.report(BWRAP)
    assert first == again and "\x1b" not in first
    levels = [r.levelno for r in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG]
    assert reported.reported(BWRAP)


async def test_an_app_server_restart_does_not_repeat_its_warnings(tmp_path: Path) -> None:
    peers: asyncio.Queue[FakeCodexPeer] = asyncio.Queue()

    async def launch() -> tuple[Transport, ChildProcess | None]:
        transport = FakeTransport()
        await peers.put(FakeCodexPeer(transport))
        return transport, None

    reported = ReportedWarnings()
    runtime = AppServerRuntime(load_config(tmp_path), launcher=launch, reported_warnings=reported)
    start = asyncio.create_task(runtime.start())
    for restart in range(3):
        peer = await asyncio.wait_for(peers.get(), 5)
        await peer.handshake()
        if restart == 0:
            await asyncio.wait_for(start, 5)
        else:
            await runtime.wait_for_state("ready", timeout=10)
        peer.notify("configWarning", {"summary": BWRAP, "details": None})
        await _flush(runtime, peer)
        if restart < 2:
            peer.transport.hang_up("codex killed by signal 9")
            await runtime.wait_for_state("restarting", timeout=5)
    assert runtime.status().restarts == 2
    assert runtime.status().warnings == [reported.report(BWRAP)]
    await runtime.close()


async def _flush(runtime: AppServerRuntime, peer: FakeCodexPeer) -> None:
    """Return once the runtime handled what the peer sent so far (messages are read in
    order, so a reply to a later request comes after them)."""
    call = asyncio.create_task(runtime.request("thread/loaded/list", {}))
    peer.reply(await peer.expect_request("thread/loaded/list"), {"data": []})
    await asyncio.wait_for(call, 5)


async def test_a_quiet_turn_fails_naming_the_last_error_codex_reported() -> None:
    recorder = TurnRecorder("th")
    error = ErrorInfo(
        "Reconnecting... waiting for network",
        FailureClass.MODEL_STREAM_DISCONNECTED,
        "Connection failed: error sending request",
        will_retry=True,
    )
    recorder.emit(CodexEvent(EventKind.ERROR, "th", "tu", error=error))
    recorder.fail_idle("no event from Codex for 10s", 10)
    result = await recorder.wait(1)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert result.error.message == (
        "no event from Codex for 10s; last error: Reconnecting... waiting for network "
        "(Connection failed: error sending request)"
    )


async def test_a_quiet_turn_without_errors_says_how_to_allow_quiet_turns() -> None:
    recorder = TurnRecorder("th")
    recorder.fail_idle("no event from Codex for 10s", 10)
    result = await recorder.wait(1)
    assert result.error is not None and "last error" not in result.error.message
    assert "codex.turn_idle_timeout_s" in result.error.message


async def a_running_turn(
    tmp_path: Path, *, idle_s: float
) -> tuple[AppServerRuntime, FakeCodexPeer, Turn]:
    """An app-server runtime on a fake Codex, with turn tu1 of thread th1 running."""
    peers: asyncio.Queue[FakeCodexPeer] = asyncio.Queue()

    async def launch() -> tuple[Transport, ChildProcess | None]:
        transport = FakeTransport()
        await peers.put(FakeCodexPeer(transport))
        return transport, None

    config = load_config(tmp_path, overrides={"turn_idle_timeout_s": idle_s})
    runtime = AppServerRuntime(config, launcher=launch, reported_warnings=ReportedWarnings())
    start = asyncio.create_task(runtime.start())
    peer = await asyncio.wait_for(peers.get(), 5)
    await peer.handshake()
    await asyncio.wait_for(start, 5)
    opening = asyncio.create_task(runtime.start_thread(ThreadOptions(cwd=tmp_path)))
    peer.reply(await peer.expect_request("thread/start"), {"thread": {"id": "th1"}})
    await asyncio.wait_for(opening, 5)
    starting = asyncio.create_task(runtime.start_turn("th1", "hello"))
    peer.reply(await peer.expect_request("turn/start"), {"turn": {"id": "tu1"}})
    turn = await starting
    return runtime, peer, turn


async def test_the_app_server_watchdog_names_the_retried_error_before_the_silence(
    tmp_path: Path,
) -> None:
    runtime, peer, turn = await a_running_turn(tmp_path, idle_s=0.2)
    peer.notify(
        "error", {"threadId": "th1", "turnId": "tu1", "willRetry": True, "error": UNREACHABLE}
    )
    read = await peer.expect_request("thread/read")
    peer.reply(read, {"thread": {"id": "th1", "turns": [{"id": "tu1", "status": "inProgress"}]}})
    peer.reply(await peer.expect_request("turn/interrupt"), {})
    result = await turn.wait(5)
    assert result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert "no event from Codex for 0.2s" in result.error.message
    assert "error sending request" in result.error.message
    await runtime.close()


def test_a_retried_error_is_no_progress_but_other_events_are() -> None:
    async def check() -> None:
        recorder = TurnRecorder("th")
        recorder.last_activity = 0.0
        retrying = ErrorInfo("Reconnecting... 1/5", FailureClass.MODEL_ERROR, will_retry=True)
        recorder.emit(CodexEvent(EventKind.ERROR, "th", "tu", error=retrying))
        assert recorder.last_activity == 0.0
        recorder.emit(CodexEvent(EventKind.TURN_STARTED, "th", "tu"))
        assert recorder.last_activity > 0.0

    asyncio.run(check())


async def test_a_turn_that_only_retries_still_goes_idle(tmp_path: Path) -> None:
    runtime, peer, turn = await a_running_turn(tmp_path, idle_s=0.3)

    async def retry_for_ever() -> None:
        # Codex's endless "waiting for network": a retried error more often than the
        # idle timeout, which used to keep the watchdog fed.
        while True:
            peer.notify(
                "error",
                {"threadId": "th1", "turnId": "tu1", "willRetry": True, "error": UNREACHABLE},
            )
            await asyncio.sleep(0.05)

    retrying = asyncio.create_task(retry_for_ever())
    try:
        read = await asyncio.wait_for(peer.expect_request("thread/read"), 5)
        peer.reply(
            read, {"thread": {"id": "th1", "turns": [{"id": "tu1", "status": "inProgress"}]}}
        )
        peer.reply(await peer.expect_request("turn/interrupt"), {})
        result = await turn.wait(5)
    finally:
        retrying.cancel()
    assert result.error is not None
    assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    assert "error sending request" in result.error.message
    await runtime.close()
