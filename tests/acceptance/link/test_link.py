"""The chat server link against a fake chat server speaking Phoenix Channels v2, with the
real codex binary and the scripted model."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from ...support.chat_server import FakeChatServer, Frame
from ..daemon.conftest import STREAMED_ANSWER
from ..daemon.harness import TERMINAL, wait_state
from .conftest import RUNNER_ID, TOKEN, TOPIC, StartLinked

pytestmark = pytest.mark.acceptance


async def _control(chat: FakeChatServer, ref: str, **control: Any) -> Frame:
    """Push a control and return its answer (a codex_response or codex_error)."""
    await chat.push(TOPIC, "control", {"requestRef": ref, **control})

    def mine(frame: Frame) -> bool:
        return frame.payload.get("requestRef") == ref

    done, pending = await asyncio.wait(
        [
            asyncio.create_task(chat.wait_for("codex_response", mine, timeout=60)),
            asyncio.create_task(chat.wait_for("codex_error", mine, timeout=60)),
        ],
        return_when=asyncio.FIRST_COMPLETED,
    )
    for task in pending:
        task.cancel()
    return next(iter(done)).result()


def _numbered(chat: FakeChatServer) -> list[Frame]:
    """The numbered notifications (not the live deltas), in arrival order."""
    return [f for f in chat.received("codex_notification") if f.payload["seq"] is not None]


def _notified_seqs(chat: FakeChatServer) -> list[int]:
    return [f.payload["seq"] for f in _numbered(chat)]


async def _wait_notified(chat: FakeChatServer, task_id: str, method: str, **params: Any) -> Frame:
    def match(frame: Frame) -> bool:
        p = frame.payload
        return (
            p.get("taskId") == task_id
            and p.get("method") == method
            and all(p["params"].get(k) == v for k, v in params.items())
        )

    return await chat.wait_for("codex_notification", match, timeout=60)


async def test_it_joins_announces_itself_and_beats(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path
) -> None:
    daemon = await start_linked()
    join = await chat.wait_for("phx_join", lambda f: f.topic == TOPIC)
    assert join.payload["clientName"] == "codex-runner"
    assert join.payload["capabilities"] == {
        "codexAppServer": True,
        "codexRemoteTui": True,
        "tasks": True,
    }
    started = await chat.wait_for("instance_started")
    assert started.payload["instanceId"].startswith("inst_")
    assert started.payload["cwd"] == str(repo)
    assert started.payload["remote"].startswith("unix://")
    beats = [await chat.wait_for("heartbeat") for _ in range(3)]
    assert all(b.payload["instanceId"] == started.payload["instanceId"] for b in beats)
    assert beats[2].at - beats[0].at >= 0.5  # at the interval, not in a burst
    async with daemon.client() as client:
        link = (await client.get("/v1/status")).json()["link"]
    assert link["state"] == "connected" and link["runner_id"] == RUNNER_ID
    assert link["last_heartbeat_at"] is not None


async def test_each_control_is_answered_once(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path
) -> None:
    daemon = await start_linked()
    await chat.wait_for("instance_started")
    started = await _control(chat, "c1", type="start_turn", text="quick one")
    assert started.event == "codex_response", started.payload
    assert started.payload["controlType"] == "start_turn"
    task_id = started.payload["response"]["taskId"]
    await _wait_notified(chat, task_id, "task.state_changed", to="completed")
    async with daemon.client() as client:
        task = await wait_state(client, task_id, TERMINAL)
    thread = task["thread_id"]

    read = await _control(chat, "c2", type="read_thread", threadId=thread)
    assert read.event == "codex_response" and read.payload["response"]["id"] == thread
    listed = await _control(chat, "c3", type="list_threads")
    assert any(t["id"] == thread and t["taskId"] == task_id for t in listed.payload["response"])
    steer = await _control(chat, "c4", type="steer_turn", threadId=thread, text="more")
    assert steer.event == "codex_error" and "not running" in steer.payload["message"]
    again = await _control(chat, "c5", type="start_turn", threadId=thread, text="quick two")
    assert again.event == "codex_response" and again.payload["response"]["taskId"] == task_id
    await _wait_notified(chat, task_id, "task.state_changed", to="completed")

    stopped = await _control(chat, "c6", type="stop_instance")
    assert stopped.payload["response"] == {"serving": False}
    refused = await _control(chat, "c7", type="start_turn", text="quick three")
    assert refused.event == "codex_error" and "start_instance" in refused.payload["message"]
    resumed = await _control(chat, "c8", type="start_instance")
    assert resumed.payload["response"] == {"serving": True}

    unknown = await _control(chat, "c9", type="make_coffee")
    assert unknown.event == "codex_error" and "make_coffee" in unknown.payload["message"]
    malformed = await _control(chat, "c10", type="start_turn", text=42)
    assert malformed.event == "codex_error"
    # The link is still up and answering.
    alive = await _control(chat, "c11", type="list_threads")
    assert alive.event == "codex_response"
    for ref in [f"c{i}" for i in range(1, 12)]:
        answers = [
            f
            for f in [*chat.received("codex_response"), *chat.received("codex_error")]
            if f.payload.get("requestRef") == ref
        ]
        assert len(answers) == 1, (ref, answers)


async def test_an_approval_is_resolved_from_the_chat(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_linked()
    await chat.wait_for("instance_started")
    async with daemon.client() as client:
        # A task whose approvals a person must decide (the link's own tasks use the default).
        task = (
            await client.post(
                "/v1/tasks",
                json={"prompt": "touch approved", "cwd": str(repo), "approval_policy": "untrusted"},
            )
        ).json()
        await wait_state(client, task["id"], {"awaiting_approval"})
        asked = await _wait_notified(chat, task["id"], "approval.requested")
        decided = await _control(
            chat,
            "a1",
            type="resolve_codex_approval_request",
            approvalId=asked.payload["params"]["approval_id"],
            decision="accept",
        )
        assert decided.event == "codex_response", decided.payload
        twice = await _control(
            chat,
            "a2",
            type="resolve_codex_approval_request",
            approvalId=asked.payload["params"]["approval_id"],
            decision="accept",
        )
        assert twice.event == "codex_error" and "already decided" in twice.payload["message"]
        done = await wait_state(client, task["id"], TERMINAL)
    assert done["state"] == "completed"
    assert (repo / "approved.txt").exists()


async def test_notifications_are_numbered_without_gaps_and_resent_after_a_drop(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path
) -> None:
    daemon = await start_linked()
    await chat.wait_for("instance_started")
    started = await _control(chat, "n1", type="start_turn", text="long job")
    task_id = started.payload["response"]["taskId"]
    await _wait_notified(chat, task_id, "codex.item.started")
    # The server acknowledges only part of what it got, then drops the link mid-turn.
    seen = _notified_seqs(chat)
    acked = seen[len(seen) // 2]
    chat.join_reply = lambda topic, payload: ("ok", {"lastSeq": acked})
    await chat.drop()
    await chat.wait_connected(2, timeout=60)
    await _wait_notified(chat, task_id, "task.state_changed", to="completed")
    second = [f for f in _numbered(chat) if f.connection == 2]
    assert second and second[0].payload["seq"] == acked + 1
    numbers = sorted(set(_notified_seqs(chat)))
    assert numbers == list(range(1, numbers[-1] + 1))  # no gaps
    async with daemon.client() as client:
        link = (await client.get("/v1/status")).json()["link"]
    assert link["last_acked_seq"] == numbers[-1]
    # A heartbeat went out right after the reconnect.
    await chat.wait_for("heartbeat", lambda f: f.connection == 2)


async def test_a_restart_resends_nothing_the_server_acknowledged(
    start_linked: StartLinked, chat: FakeChatServer, repo: Path
) -> None:
    daemon = await start_linked()
    await chat.wait_for("instance_started")
    started = await _control(chat, "r1", type="start_turn", text="quick one")
    await _wait_notified(
        chat, started.payload["response"]["taskId"], "task.state_changed", to="completed"
    )
    last = max(_notified_seqs(chat))
    chat.join_reply = lambda topic, payload: ("ok", {"lastSeq": last})
    await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop
    before = len(_numbered(chat))
    await daemon.start()
    await chat.wait_for("instance_started", lambda f: f.connection == 2)
    again = await _control(chat, "r2", type="start_turn", text="quick two")
    await _wait_notified(
        chat, again.payload["response"]["taskId"], "task.state_changed", to="completed"
    )
    after = _numbered(chat)[before:]
    assert after and min(f.payload["seq"] for f in after) == last + 1
    seqs = _notified_seqs(chat)
    assert len(seqs) == len(set(seqs))  # nothing twice


async def test_a_rejected_token_stops_the_link_and_no_file_holds_the_token(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    daemon = await start_linked(token="not-the-token")
    async with daemon.client() as client, asyncio.timeout(30):
        while True:
            link = (await client.get("/v1/status")).json()["link"]
            if link["state"] == "rejected":
                break
            await asyncio.sleep(0.1)  # the daemon's state, over HTTP
    assert "token" in link["last_error"] and "not-the-token" not in link["last_error"]
    assert chat.rejected >= 1 and chat.connections == 0
    await asyncio.to_thread(daemon.stop)  # the fake chat server shares this loop
    for path in daemon.home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"not-the-token" not in data and TOKEN.encode() not in data, path


async def test_deltas_go_out_live_coalesced_and_unnumbered(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    await start_linked()
    await chat.wait_for("instance_started")
    started = await _control(chat, "d1", type="start_turn", text="answer in pieces")
    task_id = started.payload["response"]["taskId"]
    await _wait_notified(chat, task_id, "task.state_changed", to="completed")
    frames = chat.received("codex_notification")
    live = [f for f in frames if f.payload.get("live") and f.payload["taskId"] == task_id]
    assert live and all(f.payload["seq"] is None for f in live)
    answer = [f for f in live if f.payload["params"]["kind"] == "agent_message"]
    text = "".join(f.payload["params"]["text"] for f in answer)
    assert text == STREAMED_ANSWER
    assert 1 < len(answer) <= 6  # streamed in pieces, never more than Codex sent
    completed = next(
        f
        for f in frames
        if f.payload.get("method") == "codex.item.completed"
        and f.payload["taskId"] == task_id
        and f.payload["params"]["item"]["type"] == "agent_message"
    )
    assert answer[0].index < completed.index  # live before the record


async def test_a_running_turn_is_steered_and_interrupted_from_the_chat(
    start_linked: StartLinked, chat: FakeChatServer
) -> None:
    await start_linked()
    await chat.wait_for("instance_started")
    started = await _control(chat, "i1", type="start_turn", text="long job")
    task_id = started.payload["response"]["taskId"]
    await _wait_notified(chat, task_id, "codex.item.started")
    steered = await _control(chat, "i2", type="steer_turn", taskId=task_id, text="steer-extra")
    assert steered.event == "codex_response", steered.payload
    stopped = await _control(chat, "i3", type="interrupt_turn", taskId=task_id)
    assert stopped.event == "codex_response", stopped.payload
    await _wait_notified(chat, task_id, "task.state_changed", to="interrupted")
