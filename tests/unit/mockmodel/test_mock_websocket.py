"""The scripted model's WebSocket transport, driven by aiohttp's WebSocket client."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from codex_runner.mockmodel import MockModelServer, Script

DEVELOPER = {
    "type": "message",
    "role": "developer",
    "content": [{"type": "input_text", "text": "x"}],
}
RULES = {
    "rules": [
        {
            "name": "tools",
            "match": "run it",
            "responses": [[{"shell": "true"}], [{"message": "ran"}]],
        },
        {"name": "boom", "match": "boom", "responses": [[{"http_error": 503}]]},
        {
            "name": "grow",
            "match": "grow",
            "responses": [[{"message": "one two three", "deltas": 3, "delta_delay": 0.01}]],
        },
        {"name": "cut", "match": "cut", "responses": [[{"message": "partial"}, {"cut": True}]]},
    ]
}


def user(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def create(items: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"type": "response.create", "model": "mock-model", "input": items, **extra}


@pytest.fixture
async def server() -> AsyncIterator[MockModelServer]:
    async with MockModelServer(Script.from_dict(RULES), port=0, websockets=True) as started:
        yield started


@pytest.fixture
async def socket(server: MockModelServer) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    url = server.base_url.replace("http://", "ws://") + "/responses"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.ws_connect(url, headers={"OpenAI-Beta": "responses_websockets=2026-02-06"}) as ws,
    ):
        yield ws


async def answer(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, Any] | str) -> list[Any]:
    """Send one frame (a dict as JSON); collect events up to response.completed or an error."""
    await ws.send_str(frame if isinstance(frame, str) else json.dumps(frame))
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(10):
        while True:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, message
            event = json.loads(message.data)
            events.append(event)
            if event["type"] in ("response.completed", "error"):
                return events


def output_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    completed = events[-1]
    assert completed["type"] == "response.completed"
    output: list[dict[str, Any]] = completed["response"]["output"]
    return output


def tool_output(call: dict[str, Any]) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call["call_id"], "output": "ok"}


async def test_codex_config_turns_websockets_on_for_the_provider(server: MockModelServer) -> None:
    async with MockModelServer(Script.from_dict(RULES), port=0) as sse_only:
        plain = sse_only.codex_config()["model_providers"]["mock"]

    assert server.codex_config()["model_providers"]["mock"]["supports_websockets"] is True
    assert "supports_websockets" not in plain


async def test_one_connection_carries_a_whole_turn_with_the_same_events_as_sse(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    first = await answer(socket, create([DEVELOPER, user("run it")]))
    (call,) = output_of(first)
    second = await answer(socket, create([DEVELOPER, user("run it"), call, tool_output(call)]))

    assert [e["type"] for e in first][:2] == ["response.created", "response.in_progress"]
    assert [e["sequence_number"] for e in first] == list(range(len(first)))
    assert call["name"] == "exec_command"
    assert output_of(second)[0]["content"][0]["text"] == "ran"
    assert [r.response_index for r in server.requests] == [0, 1]
    assert server.requests[0].path == "/v1/responses"
    assert server.requests[0].headers["OpenAI-Beta"] == "responses_websockets=2026-02-06"
    assert server.open_streams == 0


async def test_a_continuation_sends_only_new_items_and_the_server_rebuilds_the_input(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    prewarm = await answer(socket, create([], generate=False))
    first = await answer(
        socket,
        create([DEVELOPER, user("run it")], previous_response_id=prewarm[-1]["response"]["id"]),
    )
    (call,) = output_of(first)
    second = await answer(
        socket, create([tool_output(call)], previous_response_id=first[-1]["response"]["id"])
    )

    assert output_of(prewarm) == []
    assert output_of(second)[0]["content"][0]["text"] == "ran"
    # The prewarm is not a model call; the continuation is recorded with its full input.
    assert len(server.requests) == 2
    assert server.requests[1].body["input"] == [DEVELOPER, user("run it"), call, tool_output(call)]
    assert server.requests[1].tool_outputs == ["ok"]
    assert "previous_response_id" not in server.requests[1].body
    usage = [e["response"]["usage"]["input_tokens"] for e in (first[-1], second[-1])]
    assert usage[1] > usage[0]


async def test_an_unknown_previous_response_is_an_error_event_and_the_socket_stays_usable(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    refused = await answer(socket, create([user("run it")], previous_response_id="resp_gone"))
    wrong_type = await answer(socket, {"type": "session.update"})
    not_json = await answer(socket, "{")
    not_object = await answer(socket, "[]")
    after = await answer(socket, create([user("run it")]))

    assert refused == [
        {
            "type": "error",
            "status": 400,
            "error": {
                "message": "previous_response_id 'resp_gone' is not the last response on this "
                "connection; send the full input instead",
                "type": "mock_model_error",
                "code": "400",
            },
        }
    ]
    assert "'response.create'" in wrong_type[0]["error"]["message"]
    assert "cannot read the frame" in not_json[0]["error"]["message"]
    assert not_object[0]["error"]["message"] == "mock model expects a JSON object per frame"
    assert output_of(after)[0]["name"] == "exec_command"
    assert len(server.requests) == 1


async def test_a_scripted_http_error_is_an_error_event_with_its_status(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    (error,) = await answer(socket, create([user("boom")]))

    assert error["type"] == "error"
    assert error["status"] == 503
    assert error["error"]["message"] == "scripted HTTP 503"
    assert server.requests[0].rule == "boom"


async def test_a_cut_drops_the_connection_before_completion(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    await socket.send_str(json.dumps(create([user("cut")])))
    seen: list[str] = []
    async with asyncio.timeout(10):
        while (message := await socket.receive()).type is aiohttp.WSMsgType.TEXT:
            seen.append(json.loads(message.data)["type"])

    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)
    assert "response.output_item.done" in seen
    assert "response.completed" not in seen
    await server.wait_until_idle(timeout=5)


async def test_a_binary_frame_closes_the_connection_saying_why(
    socket: aiohttp.ClientWebSocketResponse,
) -> None:
    await socket.send_bytes(b"\x00")

    async with asyncio.timeout(10):
        message = await socket.receive()

    assert message.type is aiohttp.WSMsgType.CLOSE
    assert message.extra == "mock model expects text frames"


async def test_a_plain_get_of_the_socket_path_says_how_to_call_the_model(
    server: MockModelServer,
) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{server.base_url}/responses") as response,
    ):
        body = await response.json()

    assert response.status == 405
    assert "WebSocket endpoint" in body["error"]["message"]


async def test_stop_drops_an_idle_connection_at_once(
    server: MockModelServer, socket: aiohttp.ClientWebSocketResponse
) -> None:
    await answer(socket, create([user("run it")]))

    async with asyncio.timeout(1):  # not the 2 s shutdown grace per connection
        await server.stop()
        message = await socket.receive()

    assert message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR)


async def test_a_message_streams_in_its_scripted_deltas_over_the_socket(
    socket: aiohttp.ClientWebSocketResponse,
) -> None:
    events = await answer(socket, create([DEVELOPER, user("grow")]))

    pieces = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert len(pieces) == 3
    assert "".join(pieces) == "one two three" == output_of(events)[0]["content"][0]["text"]
