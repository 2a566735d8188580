"""The Phoenix Channels v2 client against the fake chat server (real WebSocket on 127.0.0.1).

These are also the tests of the fake itself: it is what the link's acceptance tests talk to.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import traceback
from collections.abc import AsyncIterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from codex_runner.bridges.link.phoenix import (
    ChannelClosed,
    ConnectFailed,
    ConnectionLost,
    Message,
    PhoenixSocket,
    PushRefused,
    PushTimeout,
    TokenRejected,
)

from ....support.chat_server import FakeChatServer, Frame

TOKEN = "t0ken-s3cret/+="  # characters a URL quotes, so both spellings are checked
TOPIC = "local_runner:r1"


@pytest.fixture
async def server() -> AsyncIterator[FakeChatServer]:
    async with FakeChatServer(token=TOKEN) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeChatServer) -> AsyncIterator[PhoenixSocket]:
    async with await PhoenixSocket.connect(server.url, token=TOKEN, timeout_s=5) as sock:
        yield sock


def assert_no_token(exc: BaseException) -> None:
    text = "".join(traceback.format_exception(exc)) + repr(exc)
    for form in (TOKEN, "t0ken-s3cret%2F%2B%3D", "t0ken-s3cret%2F+%3D"):
        assert form not in text


async def test_join_sends_phx_join_and_returns_the_ok_replys_response(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.join_reply = lambda topic, payload: ("ok", {"lastSeq": 41, "topic": topic})

    response = await client.join(TOPIC, {"clientName": "codex-runner"})

    assert response == {"lastSeq": 41, "topic": TOPIC}
    frame = await server.wait_for("phx_join")
    assert (frame.topic, frame.payload) == (TOPIC, {"clientName": "codex-runner"})
    assert frame.join_ref == frame.ref == client.join_ref(TOPIC)


async def test_a_refused_join_raises_push_refused_with_the_status_and_response(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.join_reply = lambda topic, payload: ("error", {"reason": "runner_unknown"})

    with pytest.raises(PushRefused) as refused:
        await client.join(TOPIC, {})

    assert (refused.value.status, refused.value.response) == ("error", {"reason": "runner_unknown"})
    assert client.join_ref(TOPIC) is None


@pytest.mark.parametrize("reason", ["unauthorized", "invalid_token"])
async def test_a_join_refused_for_the_token_raises_token_rejected(
    server: FakeChatServer, client: PhoenixSocket, reason: str
) -> None:
    server.join_reply = lambda topic, payload: ("error", {"reason": reason})

    with pytest.raises(TokenRejected, match=reason) as rejected:
        await client.join(TOPIC, {})

    assert_no_token(rejected.value)


async def test_a_push_carries_the_join_ref_and_returns_its_reply(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.replies["instance_started"] = lambda frame: ("ok", {"seen": frame.payload["id"]})
    await client.join(TOPIC, {})

    response = await client.push(TOPIC, "instance_started", {"id": "i-1"})

    assert response == {"seen": "i-1"}
    frame = await server.wait_for("instance_started")
    assert frame.join_ref == client.join_ref(TOPIC)
    assert frame.ref is not None and frame.ref != frame.join_ref


async def test_refs_are_increasing_decimal_strings(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    await client.join(TOPIC, {})
    for n in range(3):
        await client.push(TOPIC, "heartbeat", {"n": n})

    refs = [f.ref for f in server.frames]
    assert all(ref is not None and ref.isdecimal() for ref in refs)
    numbers = [int(ref) for ref in refs if ref is not None]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers) == 4


async def test_a_push_the_server_refuses_raises_push_refused(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.replies["codex_response"] = lambda frame: ("error", {"reason": "stale"})
    await client.join(TOPIC, {})

    with pytest.raises(PushRefused) as refused:
        await client.push(TOPIC, "codex_response", {})

    assert refused.value.response == {"reason": "stale"}


async def test_a_push_on_a_topic_not_joined_is_refused_by_the_server(
    client: PhoenixSocket,
) -> None:
    with pytest.raises(PushRefused, match="unmatched topic"):
        await client.push("elsewhere", "hello", {})


async def test_a_push_left_unanswered_raises_push_timeout_and_the_socket_goes_on(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.replies["slow"] = lambda frame: None
    await client.join(TOPIC, {})

    with pytest.raises(PushTimeout, match="slow"):
        await client.push(TOPIC, "slow", {}, timeout_s=0.1)

    assert await client.push(TOPIC, "fast", {}) == {}


async def test_a_server_push_is_received_as_a_message(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    await client.join(TOPIC, {})

    await server.push(TOPIC, "control", {"type": "list_threads", "requestRef": "q1"})

    message = await client.receive(timeout_s=5)
    assert message == Message(
        TOPIC, "control", {"type": "list_threads", "requestRef": "q1"}, None, client.join_ref(TOPIC)
    )


async def test_heartbeats_go_to_the_phoenix_topic_at_the_interval(server: FakeChatServer) -> None:
    async with await PhoenixSocket.connect(server.url, token=TOKEN, heartbeat_s=0.02):
        beats = [await server.wait_for("heartbeat") for _ in range(3)]

    assert [(b.topic, b.join_ref, b.payload) for b in beats] == [("phoenix", None, {})] * 3
    assert len({b.ref for b in beats}) == 3


async def test_an_unanswered_heartbeat_ends_the_connection_with_connection_lost(
    server: FakeChatServer,
) -> None:
    server.answer_heartbeats = False
    async with await PhoenixSocket.connect(
        server.url, token=TOKEN, heartbeat_s=0.05, timeout_s=5
    ) as sock:
        await sock.join(TOPIC, {})

        with pytest.raises(ConnectionLost, match="heartbeat") as lost:
            await sock.receive(timeout_s=10)

        assert sock.closed
        with pytest.raises(ConnectionLost):
            await sock.push(TOPIC, "anything", {})
    assert_no_token(lost.value)


@pytest.mark.parametrize("abort", [False, True], ids=["closed", "cut"])
async def test_a_server_side_close_ends_receive_with_connection_lost_after_the_queue_drains(
    server: FakeChatServer, client: PhoenixSocket, abort: bool
) -> None:
    await client.join(TOPIC, {})
    await server.push(TOPIC, "chat_message", {"text": "last words"})
    # A reply on the same socket comes after the push, so the push is in the inbox by now.
    await client.push(TOPIC, "sync", {})

    await server.drop(abort=abort)

    assert (await client.receive(timeout_s=5)).payload == {"text": "last words"}
    with pytest.raises(ConnectionLost) as lost:
        await client.receive(timeout_s=5)
    assert client.closed
    assert_no_token(lost.value)


async def test_a_push_waiting_when_the_connection_drops_gets_connection_lost(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.replies["slow"] = lambda frame: None
    await client.join(TOPIC, {})
    waiting = asyncio.create_task(client.push(TOPIC, "slow", {}, timeout_s=10))
    await server.wait_for("slow")

    await server.drop()

    with pytest.raises(ConnectionLost):
        await waiting


async def test_a_wrong_token_raises_token_rejected_at_connect(server: FakeChatServer) -> None:
    wrong = "wr0ng-t0ken"
    with pytest.raises(TokenRejected, match="HTTP 403") as rejected:
        await PhoenixSocket.connect(server.url, token=wrong, timeout_s=5)

    assert wrong not in "".join(traceback.format_exception(rejected.value))
    assert server.rejected == 1 and server.connections == 0


async def test_an_unreachable_server_raises_connect_failed_without_the_token() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]

    with pytest.raises(ConnectFailed) as failed:
        await PhoenixSocket.connect(f"ws://127.0.0.1:{port}/socket", token=TOKEN, timeout_s=5)

    assert isinstance(failed.value, ConnectionLost)  # a caller's reconnect loop catches both
    assert_no_token(failed.value)


async def test_the_librarys_debug_log_of_the_request_line_is_redacted(
    server: FakeChatServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="websockets.client"):
        async with await PhoenixSocket.connect(server.url, token=TOKEN, timeout_s=5):
            pass

    assert "GET /socket/websocket?vsn=2.0.0&token=[redacted]" in caplog.text
    assert "s3cret" not in caplog.text


async def test_the_inbox_drops_the_oldest_push_when_full_and_counts_it(
    server: FakeChatServer,
) -> None:
    async with await PhoenixSocket.connect(server.url, token=TOKEN, max_queue=2) as sock:
        await sock.join(TOPIC, {})
        for n in range(3):
            await server.push(TOPIC, "chat_message", {"n": n})
        await sock.push(TOPIC, "sync", {})  # its reply follows the three pushes

        received = [(await sock.receive(timeout_s=5)).payload["n"] for _ in range(2)]

        assert received == [1, 2]
        assert sock.dropped == 1


async def test_a_frame_it_cannot_read_is_skipped_and_the_reader_goes_on(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    await client.join(TOPIC, {})

    for bad in ("not json", '{"an": "object"}', '[null, null, "t", "e", []]'):
        await server.send_raw(bad)
    await server.push(TOPIC, "control", {"type": "list_threads"})

    assert (await client.receive(timeout_s=5)).event == "control"


async def test_a_channel_error_reaches_the_owner_and_fails_the_pushes_waiting_on_it(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.replies["slow"] = lambda frame: None
    await client.join(TOPIC, {})
    waiting = asyncio.create_task(client.push(TOPIC, "slow", {}, timeout_s=10))
    await server.wait_for("slow")

    await server.push(TOPIC, "phx_error", {})

    with pytest.raises(ChannelClosed, match="phx_error"):
        await waiting
    assert (await client.receive(timeout_s=5)).event == "phx_error"
    assert client.join_ref(TOPIC) is None


async def test_a_channel_error_right_after_the_join_reply_is_not_missed(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    server.after_join = lambda frame: [("control", {"n": 1}), ("phx_error", {})]

    await client.join(TOPIC, {})

    events = [(await client.receive(timeout_s=5)).event for _ in range(2)]
    assert events == ["control", "phx_error"]
    assert client.join_ref(TOPIC) is None


async def test_leave_sends_phx_leave_and_the_close_that_follows_is_not_a_message(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    await client.join(TOPIC, {})

    await client.leave(TOPIC)
    await client.leave(TOPIC)  # a second leave has nothing to do

    assert len(server.received("phx_leave")) == 1
    assert client.join_ref(TOPIC) is None
    await server.push("other", "ping", {})  # arrives after the phx_close
    assert (await client.receive(timeout_s=5)).topic == "other"


async def test_rejoining_uses_a_new_join_ref_and_drops_pushes_of_the_old_join(
    server: FakeChatServer, client: PhoenixSocket
) -> None:
    await client.join(TOPIC, {})
    first = client.join_ref(TOPIC)
    await client.leave(TOPIC)
    await client.join(TOPIC, {})
    assert client.join_ref(TOPIC) != first

    await server.send_raw(f'["{first}", null, "{TOPIC}", "control", {{"old": true}}]')
    await server.push(TOPIC, "control", {"old": False})

    assert (await client.receive(timeout_s=5)).payload == {"old": False}


async def test_close_is_idempotent_and_later_calls_raise_connection_lost(
    server: FakeChatServer,
) -> None:
    sock = await PhoenixSocket.connect(server.url, token=TOKEN)
    await sock.join(TOPIC, {})

    await asyncio.gather(sock.close(), sock.close())
    await sock.close()

    assert sock.closed
    for call in (sock.receive(timeout_s=1), sock.push(TOPIC, "x", {}), sock.join(TOPIC, {})):
        with pytest.raises(ConnectionLost):
            await call
    await sock.leave(TOPIC)  # nothing to leave on a closed socket


async def test_the_fake_answers_only_its_socket_path_and_serializer(
    server: FakeChatServer,
) -> None:
    with pytest.raises(ConnectFailed, match="HTTP 404"):
        await PhoenixSocket.connect(f"{server.url}/elsewhere", token=TOKEN, timeout_s=5)
    with pytest.raises(InvalidStatus, match="HTTP 400"):
        await connect(f"{server.url}/websocket?vsn=1.0.0&token=x", open_timeout=5)
    assert server.connections == 0


async def test_the_fake_counts_connections_and_wait_for_returns_each_frame_once(
    server: FakeChatServer,
) -> None:
    for n in (1, 2):
        async with await PhoenixSocket.connect(server.url, token=TOKEN) as sock:
            await server.wait_connected(n, timeout=5)
            await sock.join(TOPIC, {"n": n})

    frames: list[Frame] = [await server.wait_for("phx_join") for _ in range(2)]
    assert [(f.connection, f.payload) for f in frames] == [(1, {"n": 1}), (2, {"n": 2})]
    with pytest.raises(AssertionError, match="phx_join"):
        await server.wait_for("phx_join", timeout=0.05)
