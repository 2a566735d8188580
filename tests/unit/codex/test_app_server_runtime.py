"""App-server runtime lifecycle edges, with an in-memory Codex peer (no process)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.app_server_turn import AppServerTurn
from codex_runner.codex.errors import CodexError, RpcTimeout, RuntimeUnavailable, TurnBusy
from codex_runner.codex.fake import FakeCodexPeer, FakeTransport
from codex_runner.codex.process import ChildProcess
from codex_runner.codex.runtime import ApprovalHandler, ThreadOptions
from codex_runner.codex.transport import Transport
from codex_runner.config import load_config
from codex_runner.domain.events import (
    ApprovalRequest,
    EventKind,
    FailureClass,
    ItemType,
    TurnStatus,
)

OPTIONS = ThreadOptions(cwd=Path("/tmp"))


class Harness:
    """Hands each launch of the runtime a fresh fake transport and its peer."""

    def __init__(self) -> None:
        self.peers: asyncio.Queue[FakeCodexPeer] = asyncio.Queue()
        self.launches = 0
        self.fail_launches = False

    async def launch(self) -> tuple[Transport, ChildProcess | None]:
        self.launches += 1
        transport = FakeTransport()
        if self.fail_launches:
            transport.hang_up("codex exited with code 1 at start")
        else:
            await self.peers.put(FakeCodexPeer(transport))
        return transport, None

    async def peer(self) -> FakeCodexPeer:
        return await asyncio.wait_for(self.peers.get(), 5)


async def _runtime(
    tmp_path: Path, harness: Harness, handler: ApprovalHandler | None = None, **settings: Any
) -> tuple[AppServerRuntime, FakeCodexPeer]:
    config = load_config(tmp_path, overrides=settings)
    runtime = AppServerRuntime(config, launcher=harness.launch, approvals=handler)
    start = asyncio.create_task(runtime.start())
    peer = await harness.peer()
    await peer.handshake()
    await asyncio.wait_for(start, 5)
    return runtime, peer


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    yield Harness()


async def _open_thread(runtime: AppServerRuntime, peer: FakeCodexPeer, tid: str = "th1") -> None:
    task = asyncio.create_task(runtime.start_thread(OPTIONS))
    req = await peer.expect_request("thread/start")
    assert req["params"]["cwd"] == "/tmp"
    peer.reply(req, {"thread": {"id": tid}})
    await asyncio.wait_for(task, 5)


async def _start_turn(
    runtime: AppServerRuntime, peer: FakeCodexPeer, thread: str, turn_id: str, prompt: str
) -> AppServerTurn:
    """Start a turn and answer its turn/start with ``turn_id``."""
    start = asyncio.create_task(runtime.start_turn(thread, prompt))
    req = await peer.expect_request("turn/start")
    peer.reply(req, {"turn": {"id": turn_id}})
    return await start


def _agent_message(thread: str, turn: str, text: str) -> dict[str, Any]:
    return {
        "threadId": thread,
        "turnId": turn,
        "item": {"type": "agentMessage", "id": "m1", "text": text},
    }


async def test_a_message_turn_completes_with_final_message_and_usage(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    start = asyncio.create_task(runtime.start_turn("th1", "hello"))
    req = await peer.expect_request("turn/start")
    assert req["params"]["input"] == [{"type": "text", "text": "hello"}]
    # Notifications may arrive before the turn/start response.
    peer.notify("turn/started", {"threadId": "th1", "turn": {"id": "tu1", "status": "inProgress"}})
    peer.reply(req, {"turn": {"id": "tu1", "status": "inProgress", "items": []}})
    turn = await start
    peer.notify("item/completed", _agent_message("th1", "tu1", "Hi there"))
    last = {"inputTokens": 10, "cachedInputTokens": 0, "outputTokens": 5}
    last |= {"reasoningOutputTokens": 0, "totalTokens": 15}
    usage = {"threadId": "th1", "turnId": "tu1", "tokenUsage": {"last": last, "total": last}}
    peer.notify("thread/tokenUsage/updated", usage)
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    result = await turn.wait(5)
    assert result.status is TurnStatus.COMPLETED
    assert result.final_message == "Hi there"
    assert result.usage.total_tokens == 15
    kinds = [e.kind async for e in turn.events()]
    assert kinds[0] is EventKind.THREAD_STARTED
    assert kinds[-1] is EventKind.TURN_COMPLETED
    assert EventKind.ITEM_COMPLETED in kinds
    await runtime.close()


async def test_child_death_fails_the_turn_restarts_and_the_next_turn_runs(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "work")
    peer.transport.hang_up("codex killed by signal 9")
    result = await turn.wait(5)
    assert result.status is TurnStatus.FAILED
    assert result.error is not None
    assert result.error.failure_class is FailureClass.TRANSPORT_CLOSED_BEFORE_TURN_COMPLETED
    assert "signal 9" in result.error.message

    peer2 = await harness.peer()
    await peer2.handshake()
    # The next turn on the same thread reloads it in the new process first.
    start = asyncio.create_task(runtime.start_turn("th1", "again"))
    resume = await peer2.expect_request("thread/resume")
    assert resume["params"]["threadId"] == "th1"
    peer2.reply(resume, {"thread": {"id": "th1"}})
    req = await peer2.expect_request("turn/start")
    peer2.reply(req, {"turn": {"id": "tu2"}})
    turn2 = await start
    peer2.notify(
        "turn/completed", {"threadId": "th1", "turn": {"id": "tu2", "status": "completed"}}
    )
    assert (await turn2.wait(5)).ok
    assert runtime.status().restarts == 1
    await runtime.close()


async def test_a_crash_loop_stops_restarting_with_a_clear_error(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness, max_restarts=2)
    harness.fail_launches = True
    peer.transport.hang_up("codex killed by signal 9")
    await runtime.wait_for_state("failed", timeout=10)
    assert harness.launches == 3  # the first launch, then two failed restarts
    with pytest.raises(RuntimeUnavailable, match="crashed 3 times"):
        await runtime.start_thread(OPTIONS)
    await runtime.close()


async def test_overloaded_requests_are_retried(tmp_path: Path, harness: Harness) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    task = asyncio.create_task(runtime.start_thread(OPTIONS))
    first = await peer.expect_request("thread/start")
    peer.reply_error(first, -32001, "Server overloaded; retry later")
    second = await peer.expect_request("thread/start")
    peer.reply(second, {"thread": {"id": "th9"}})
    assert (await asyncio.wait_for(task, 5)).id == "th9"
    await runtime.close()


async def test_malformed_and_oversized_lines_are_counted_and_skipped(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    peer.transport.push_raw(b"{not json")
    peer.transport.push_raw(b"[1,2]")
    peer.transport.push_oversized()
    await _open_thread(runtime, peer)  # the reader survived
    assert runtime.status().malformed_lines == 3
    await runtime.close()


async def test_requests_time_out(tmp_path: Path, harness: Harness) -> None:
    runtime, _ = await _runtime(tmp_path, harness, request_timeout_s=0.05)
    with pytest.raises(RpcTimeout, match="thread/start"):
        await runtime.start_thread(OPTIONS)
    await runtime.close()


async def test_a_slow_approval_blocks_nothing_and_its_decision_is_sent(
    tmp_path: Path, harness: Harness
) -> None:
    decided = asyncio.Event()
    seen: list[ApprovalRequest] = []

    async def human(request: ApprovalRequest) -> str:
        seen.append(request)
        await decided.wait()
        return "accept"

    runtime, peer = await _runtime(tmp_path, harness, handler=human)
    await _open_thread(runtime, peer, "a")
    await _open_thread(runtime, peer, "b")
    turns = {}
    for tid in ("a", "b"):
        start = asyncio.create_task(runtime.start_turn(tid, "go"))
        req = await peer.expect_request("turn/start")
        peer.reply(req, {"turn": {"id": f"t-{tid}"}})
        turns[tid] = await start
    params = {"threadId": "a", "turnId": "t-a", "itemId": "i1", "command": "touch f", "cwd": "/w"}
    params["availableDecisions"] = ["accept", "decline"]
    peer.server_request(77, "item/commandExecution/requestApproval", params)
    # Thread b keeps streaming while a waits on its human.
    peer.notify("turn/completed", {"threadId": "b", "turn": {"id": "t-b", "status": "completed"}})
    assert (await turns["b"].wait(5)).ok
    assert seen and seen[0].command == "touch f"
    assert seen[0].available_decisions == ("accept", "decline")
    decided.set()
    answer = await peer.next()
    assert answer == {"jsonrpc": "2.0", "id": 77, "result": {"decision": "accept"}}
    kinds = [e.kind for e in turns["a"].recorder._events]
    assert EventKind.APPROVAL_REQUESTED in kinds and EventKind.APPROVAL_RESOLVED in kinds
    await runtime.close()


async def test_a_turn_started_with_its_own_approval_handler_asks_it_not_the_runtimes(
    tmp_path: Path, harness: Harness
) -> None:
    asked: list[str] = []

    async def runtime_handler(request: ApprovalRequest) -> str:
        asked.append("runtime")
        return "accept"

    async def turn_handler(request: ApprovalRequest) -> str:
        asked.append(f"turn on {request.thread_id}")
        return "decline"

    runtime, peer = await _runtime(tmp_path, harness, handler=runtime_handler)
    await _open_thread(runtime, peer)
    start = asyncio.create_task(runtime.start_turn("th1", "go", approvals=turn_handler))
    req = await peer.expect_request("turn/start")
    peer.reply(req, {"turn": {"id": "tu1"}})
    await start
    params = {"threadId": "th1", "turnId": "tu1", "itemId": "i1", "command": "touch f", "cwd": "/w"}
    params["availableDecisions"] = ["accept", "decline"]
    peer.server_request(9, "item/commandExecution/requestApproval", params)
    answer = await peer.next()
    assert answer["id"] == 9 and answer["result"] == {"decision": "decline"}
    assert asked == ["turn on th1"]
    await runtime.close()


async def test_interrupt_declines_pending_approvals_first(tmp_path: Path, harness: Harness) -> None:
    async def never(request: ApprovalRequest) -> str:
        await asyncio.Event().wait()
        return "accept"

    runtime, peer = await _runtime(tmp_path, harness, handler=never)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    params = {"threadId": "th1", "turnId": "tu1", "itemId": "i1", "startedAtMs": 0}
    peer.server_request(5, "item/fileChange/requestApproval", params)
    async with asyncio.timeout(5):
        async for event in turn.events():
            if event.kind is EventKind.APPROVAL_REQUESTED:
                break
    interrupt = asyncio.create_task(turn.interrupt())
    declined = await peer.next()
    assert declined["id"] == 5 and declined["result"] == {"decision": "decline"}
    req = await peer.expect_request("turn/interrupt")
    assert req["params"] == {"threadId": "th1", "turnId": "tu1"}
    peer.reply(req, {})
    peer.notify(
        "turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "interrupted"}}
    )
    assert (await interrupt).status is TurnStatus.INTERRUPTED
    await runtime.close()


async def test_steer_uses_expected_turn_id_and_a_busy_thread_refuses_a_second_turn(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    with pytest.raises(TurnBusy):
        await runtime.start_turn("th1", "another")
    steer = asyncio.create_task(turn.steer("also this"))
    req = await peer.expect_request("turn/steer")
    assert req["params"]["expectedTurnId"] == "tu1"
    assert req["params"]["input"] == [{"type": "text", "text": "also this"}]
    peer.reply(req, {"turnId": "tu1"})
    await asyncio.wait_for(steer, 5)
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    await turn.wait(5)
    await runtime.close()


@pytest.mark.parametrize("read_status", ["completed", "inProgress"])
async def test_the_watchdog_ends_a_turn_whose_completion_never_arrives(
    tmp_path: Path, harness: Harness, read_status: str
) -> None:
    runtime, peer = await _runtime(tmp_path, harness, turn_idle_timeout_s=0.05)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    read = await peer.expect_request("thread/read")
    items = [{"type": "agentMessage", "id": "m", "text": "finished"}]
    wire_turn = {"id": "tu1", "status": read_status, "items": items}
    peer.reply(read, {"thread": {"id": "th1", "turns": [wire_turn]}})
    if read_status == "inProgress":
        interrupt = await peer.expect_request("turn/interrupt")
        peer.reply(interrupt, {})
    result = await turn.wait(5)
    if read_status == "completed":
        assert result.ok and result.final_message == "finished"
    else:
        assert result.status is TurnStatus.FAILED
        assert result.error is not None
        assert result.error.failure_class is FailureClass.TURN_IDLE_TIMEOUT
    await runtime.close()


async def test_a_lost_thread_is_replaced_by_a_fresh_one_carrying_context(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    resume = asyncio.create_task(runtime.resume_thread("old", OPTIONS, context="we fixed bug 7"))
    req = await peer.expect_request("thread/resume")
    peer.reply_error(req, -32600, "no rollout found for thread id old")
    req = await peer.expect_request("thread/start")
    peer.reply(req, {"thread": {"id": "new"}})
    handle = await asyncio.wait_for(resume, 5)
    assert handle.id == "new" and handle.replaced_thread_id == "old"
    start = asyncio.create_task(runtime.start_turn("new", "continue"))
    req = await peer.expect_request("turn/start")
    texts = [i["text"] for i in req["params"]["input"]]
    assert "we fixed bug 7" in texts[0] and texts[1] == "continue"
    peer.reply(req, {"turn": {"id": "t"}})
    turn = await start
    first = await anext(turn.events())
    assert first.kind is EventKind.THREAD_REPLACED
    assert first.data["replaced_thread_id"] == "old"
    await runtime.close()


async def test_a_resume_while_codex_still_closes_the_thread_is_retried(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    resume = asyncio.create_task(runtime.resume_thread("th1", OPTIONS))
    closing = "thread th1 is closing; retry thread/resume after the thread is closed"
    for _ in range(2):
        peer.reply_error(await peer.expect_request("thread/resume"), -32600, closing)
    peer.reply(await peer.expect_request("thread/resume"), {"thread": {"id": "th1"}})

    handle = await asyncio.wait_for(resume, 5)

    assert handle.id == "th1" and handle.replaced_thread_id is None
    await runtime.close()


async def test_a_turn_on_a_thread_unloaded_just_after_its_resume_resumes_it_again(
    tmp_path: Path, harness: Harness
) -> None:
    # Codex answered the resume from the loaded thread, then the earlier unsubscribe's
    # unload removed it: the turn resumes the thread once more instead of failing.
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    start = asyncio.create_task(runtime.start_turn("th1", "go on"))
    peer.reply_error(await peer.expect_request("turn/start"), -32600, "thread not found: th1")
    resume = await peer.expect_request("thread/resume")
    assert resume["params"]["threadId"] == "th1" and resume["params"]["cwd"] == "/tmp"
    peer.reply(resume, {"thread": {"id": "th1"}})
    again = await peer.expect_request("turn/start")
    assert again["params"]["input"][0]["text"] == "go on"
    peer.reply(again, {"turn": {"id": "tu1"}})

    turn = await asyncio.wait_for(start, 5)

    assert turn.id == "tu1" and not turn.done
    await runtime.close()


async def test_item_translation_keeps_command_details(tmp_path: Path, harness: Harness) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    item = {"type": "commandExecution", "id": "c1", "command": "ls", "cwd": "/w"}
    item |= {"aggregatedOutput": "a\n", "exitCode": 0, "status": "completed"}
    peer.notify("item/completed", {"threadId": "th1", "turnId": "tu1", "item": item})
    peer.notify(
        "turn/completed",
        {
            "threadId": "th1",
            "turn": {"id": "tu1", "status": "failed", "error": {"message": "boom"}},
        },
    )
    result = await turn.wait(5)
    assert result.status is TurnStatus.FAILED and result.error is not None
    assert result.error.message == "boom"
    items = [e.item async for e in turn.events() if e.item is not None]
    assert items[0].type is ItemType.COMMAND_EXECUTION
    assert (items[0].command, items[0].exit_code, items[0].output) == ("ls", 0, "a\n")
    await runtime.close()


async def test_a_decision_not_offered_never_falls_back_to_accepting(
    tmp_path: Path, harness: Harness
) -> None:
    async def confused(request: ApprovalRequest) -> str:
        return "yes please"

    runtime, peer = await _runtime(tmp_path, harness, handler=confused)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    params = {"threadId": "th1", "turnId": "tu1", "itemId": "i1", "command": "rm -rf /"}
    params["availableDecisions"] = ["accept", {"acceptWithExecpolicyAmendment": {}}, "cancel"]
    peer.server_request(9, "item/commandExecution/requestApproval", params)
    answer = await peer.next()
    assert answer["result"] == {"decision": "cancel"}
    warnings = [e.message for e in turn.recorder._events if e.kind is EventKind.WARNING]
    assert warnings and "yes please" in (warnings[0] or "")
    await runtime.close()


async def test_releasing_a_thread_unsubscribes_and_its_next_turn_needs_a_resume(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    await runtime.release_thread("th1")  # a turn runs on it: kept, nothing sent
    assert peer.transport.sent.empty()
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    await turn.wait(5)
    release = asyncio.create_task(runtime.release_thread("th1"))
    req = await peer.expect_request("thread/unsubscribe")
    assert req["params"] == {"threadId": "th1"}
    peer.reply(req, {"status": "unsubscribed"})
    await asyncio.wait_for(release, 5)
    with pytest.raises(CodexError, match="call resume_thread first"):
        await runtime.start_turn("th1", "again")
    await runtime.release_thread("th1")  # already released: nothing to send
    assert peer.transport.sent.empty()
    await runtime.close()


async def test_a_failed_unsubscribe_is_not_raised(tmp_path: Path, harness: Harness) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    release = asyncio.create_task(runtime.release_thread("th1"))
    req = await peer.expect_request("thread/unsubscribe")
    peer.reply_error(req, -32601, "method not found")
    await asyncio.wait_for(release, 5)
    await runtime.close()


async def test_resuming_a_thread_still_loaded_sends_no_resume_and_a_released_one_does(
    tmp_path: Path, harness: Harness
) -> None:
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    await turn.wait(5)
    # Kept warm after its turn: the follow-up goes straight to turn/start.
    handle = await asyncio.wait_for(runtime.resume_thread("th1", OPTIONS), 5)
    assert handle.id == "th1" and handle.replaced_thread_id is None
    assert peer.transport.sent.empty()
    follow_up = await _start_turn(runtime, peer, "th1", "tu2", "again")
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu2", "status": "completed"}})
    await follow_up.wait(5)
    release = asyncio.create_task(runtime.release_thread("th1"))
    peer.reply(await peer.expect_request("thread/unsubscribe"), {"status": "unsubscribed"})
    await asyncio.wait_for(release, 5)
    resume = asyncio.create_task(runtime.resume_thread("th1", OPTIONS))
    req = await peer.expect_request("thread/resume")
    assert req["params"]["threadId"] == "th1"
    peer.reply(req, {"thread": {"id": "th1"}})
    await asyncio.wait_for(resume, 5)
    await runtime.close()
