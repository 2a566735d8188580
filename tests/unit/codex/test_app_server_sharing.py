"""A shared app-server: turns other clients start, approvals they answer, external peers."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from codex_runner.codex.app_server import AppServerRuntime
from codex_runner.codex.app_server_turn import AppServerTurn
from codex_runner.codex.endpoint import EndpointError, parse_endpoint
from codex_runner.codex.restart_policy import RECONNECT_MAX_DELAY_S, RestartPolicy
from codex_runner.config import ConfigError, load_config
from codex_runner.domain.approval import ANSWERED_ELSEWHERE
from codex_runner.domain.events import ApprovalRequest, EventKind, TurnStatus

from .test_app_server_runtime import Harness, _open_thread, _runtime, _start_turn

APPROVAL = "item/commandExecution/requestApproval"


def _approval_params(thread: str, turn: str) -> dict[str, Any]:
    return {
        "threadId": thread,
        "turnId": turn,
        "itemId": "i1",
        "command": "touch f",
        "cwd": "/w",
        "availableDecisions": ["accept", "decline"],
    }


class Human:
    """A person who never decides here: the approval ends when another client answers."""

    def __init__(self) -> None:
        self.asked = asyncio.Event()
        self.times_asked = 0
        self.elsewhere = asyncio.Event()
        self.told: list[str] = []

    async def __call__(self, request: ApprovalRequest) -> str:
        self.times_asked += 1
        self.asked.set()
        await self.elsewhere.wait()
        return ANSWERED_ELSEWHERE

    def answered_elsewhere(self, request: ApprovalRequest) -> None:
        self.told.append(request.command or "")
        self.elsewhere.set()


async def test_an_approval_answered_by_another_client_is_never_answered_again(
    tmp_path: Path,
) -> None:
    harness = Harness()
    human = Human()
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    start = asyncio.create_task(runtime.start_turn("th1", "go", approvals=human))
    req = await peer.expect_request("turn/start")
    peer.reply(req, {"turn": {"id": "tu1"}})
    turn = await start
    peer.server_request(0, APPROVAL, _approval_params("th1", "tu1"))
    await asyncio.wait_for(human.asked.wait(), 5)  # the request is parked with the human
    peer.notify("serverRequest/resolved", {"threadId": "th1", "requestId": 0})
    await asyncio.wait_for(human.elsewhere.wait(), 5)
    assert human.told == ["touch f"]
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    assert (await turn.wait(5)).ok
    resolved = [e for e in turn.recorder._events if e.kind is EventKind.APPROVAL_RESOLVED]
    assert [e.decision for e in resolved] == [ANSWERED_ELSEWHERE]
    # Nothing was sent for request 0: the next message the peer sees is the unsubscribe.
    release = asyncio.create_task(runtime.release_thread("th1"))
    message = await peer.next()
    assert message.get("method") == "thread/unsubscribe", message
    peer.reply(message, {"status": "unsubscribed"})
    await release
    await runtime.close()


async def test_an_answer_elsewhere_that_arrives_with_the_request_is_not_missed(
    tmp_path: Path,
) -> None:
    harness = Harness()
    human = Human()
    runtime, peer = await _runtime(tmp_path, harness)
    await _open_thread(runtime, peer)
    start = asyncio.create_task(runtime.start_turn("th1", "go", approvals=human))
    req = await peer.expect_request("turn/start")
    peer.reply(req, {"turn": {"id": "tu1"}})
    turn = await start
    # Both in one read: the request's task has not run when the resolution is routed.
    peer.server_request(3, APPROVAL, _approval_params("th1", "tu1"))
    peer.notify("serverRequest/resolved", {"threadId": "th1", "requestId": 3})
    for _ in range(100):
        if any(e.kind is EventKind.APPROVAL_RESOLVED for e in turn.recorder._events):
            break
        await asyncio.sleep(0.01)
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    assert (await turn.wait(5)).ok
    decisions = [e.decision for e in turn.recorder._events if e.kind is EventKind.APPROVAL_RESOLVED]
    assert human.times_asked == 1 and human.told == ["touch f"]
    assert decisions == [ANSWERED_ELSEWHERE]
    await runtime.close()


async def test_a_resolved_notice_for_the_runners_own_answer_changes_nothing(
    tmp_path: Path,
) -> None:
    harness = Harness()

    async def accept(request: ApprovalRequest) -> str:
        return "accept"

    runtime, peer = await _runtime(tmp_path, harness, handler=accept)
    await _open_thread(runtime, peer)
    turn = await _start_turn(runtime, peer, "th1", "tu1", "go")
    peer.server_request(5, APPROVAL, _approval_params("th1", "tu1"))
    answer = await peer.next()
    assert answer["id"] == 5 and answer["result"] == {"decision": "accept"}
    peer.notify("serverRequest/resolved", {"threadId": "th1", "requestId": 5})
    peer.notify("turn/completed", {"threadId": "th1", "turn": {"id": "tu1", "status": "completed"}})
    assert (await turn.wait(5)).ok
    decisions = [e.decision for e in turn.recorder._events if e.kind is EventKind.APPROVAL_RESOLVED]
    assert decisions == ["accept"]
    await runtime.close()


async def test_a_turn_another_client_starts_on_a_loaded_thread_is_followed(
    tmp_path: Path,
) -> None:
    harness = Harness()
    adopted: list[AppServerTurn] = []
    runtime, peer = await _runtime(tmp_path, harness)
    runtime.on_turn_started_elsewhere = adopted.append
    await _open_thread(runtime, peer)
    peer.notify("turn/started", {"threadId": "th1", "turn": {"id": "tui-1"}})
    peer.notify("turn/started", {"threadId": "not-loaded", "turn": {"id": "x"}})
    message = {"type": "agentMessage", "id": "m1", "text": "from the TUI"}
    peer.notify("item/completed", {"threadId": "th1", "turnId": "tui-1", "item": message})
    peer.notify(
        "turn/completed", {"threadId": "th1", "turn": {"id": "tui-1", "status": "completed"}}
    )
    for _ in range(100):
        if adopted and adopted[0].done:
            break
        await asyncio.sleep(0.01)
    (turn,) = adopted
    assert turn.started_elsewhere and turn.id == "tui-1"
    result = await turn.wait(5)
    assert result.status is TurnStatus.COMPLETED and result.final_message == "from the TUI"
    # The runner's own next turn on the thread is not refused as busy.
    own = await _start_turn(runtime, peer, "th1", "tu2", "go on")
    assert not own.started_elsewhere
    await runtime.close()


async def test_an_external_app_server_that_goes_away_is_reconnected_without_a_budget(
    tmp_path: Path,
) -> None:
    harness = Harness()
    config = load_config(
        tmp_path,
        overrides={"url": "ws://127.0.0.1:9", "max_restarts": 0},
    )
    runtime = AppServerRuntime(config, launcher=harness.launch)
    runtime._policy = RestartPolicy(config.codex, external=True)  # the launcher is a fake
    start = asyncio.create_task(runtime.start())
    peer = await harness.peer()
    await peer.handshake()
    await asyncio.wait_for(start, 5)
    for _ in range(3):  # more losses than max_restarts allows a child of ours
        peer.transport.hang_up("the app-server went away")
        await runtime.wait_for_state("reconnecting", timeout=5)
        peer = await harness.peer()
        await peer.handshake()
        await runtime.wait_for_state("ready", timeout=5)
    assert runtime.status().restarts == 3
    await runtime.close()


def test_restart_policy_gives_up_on_a_crashing_child_but_never_on_an_external_peer(
    tmp_path: Path,
) -> None:
    settings = load_config(tmp_path, overrides={"max_restarts": 1}).codex
    own, external = RestartPolicy(settings, external=False), RestartPolicy(settings, external=True)
    for policy in (own, external):
        policy.lost()
        policy.lost()
    assert own.given_up("boom") is not None and "boom" in (own.given_up("boom") or "")
    assert external.given_up("boom") is None
    assert external.delay(50) == RECONNECT_MAX_DELAY_S


@pytest.mark.parametrize(
    ("url", "scheme", "address"),
    [
        ("ws://127.0.0.1:4500", "ws", "ws://127.0.0.1:4500"),
        ("unix:///run/codex.sock", "unix", "/run/codex.sock"),
    ],
)
def test_app_server_addresses_parse(url: str, scheme: str, address: str) -> None:
    endpoint = parse_endpoint(url)
    assert (endpoint.scheme, endpoint.address, endpoint.url) == (scheme, address, url)


@pytest.mark.parametrize("url", ["http://x", "unix://relative.sock", "ws://"])
def test_bad_app_server_addresses_say_what_to_write(url: str) -> None:
    with pytest.raises(EndpointError, match=r"ws://HOST:PORT|unix:///PATH"):
        parse_endpoint(url)


def test_a_bad_codex_url_in_the_config_names_the_forms(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text('[codex]\nurl = "http://localhost:1"\n')
    with pytest.raises(ConfigError, match="ws://HOST:PORT or unix:///PATH"):
        load_config(tmp_path)


async def test_the_accounts_rate_limits_are_kept_as_codex_reports_them(tmp_path: Path) -> None:
    harness = Harness()
    runtime, peer = await _runtime(tmp_path, harness)
    assert runtime.status().rate_limits is None
    limits = {"limitId": "codex", "primary": {"usedPercent": 42.0}}
    peer.notify("account/rateLimits/updated", {"rateLimits": limits})
    for _ in range(100):
        if runtime.status().rate_limits is not None:
            break
        await asyncio.sleep(0.01)
    assert runtime.status().rate_limits == limits
    await runtime.close()
