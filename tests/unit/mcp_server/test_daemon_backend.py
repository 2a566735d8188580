"""The tools' backend over the daemon's API: the API's errors and a missing daemon become
RunnerErrors that say what to do; the token goes only into the Authorization header."""

from __future__ import annotations

import json

import httpx
import pytest

from codex_runner.http.wire import MessageBody
from codex_runner.mcp_server.backend import DAEMON_UNREACHABLE, RunnerError, TaskQuery
from codex_runner.mcp_server.daemon_backend import DaemonBackend

TOKEN = "s3cret-token"
URL = "http://127.0.0.1:9"


def backend(handler: httpx.MockTransport) -> DaemonBackend:
    return DaemonBackend(lambda: (URL, TOKEN), transport=handler)


async def test_an_api_error_keeps_its_code_message_and_field() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"error": {"code": "not_found", "message": "no task t_x", "field": None}}
        return httpx.Response(404, json=body)

    with pytest.raises(RunnerError) as caught:
        await backend(httpx.MockTransport(answer)).get_task("t_x")

    assert (caught.value.code, caught.value.message) == ("not_found", "no task t_x")
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert seen[0].url.path == "/v1/tasks/t_x"


async def test_no_daemon_listening_says_how_to_start_one() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RunnerError) as caught:
        await backend(httpx.MockTransport(refuse)).list_tasks(TaskQuery(limit=10))

    assert caught.value.code == DAEMON_UNREACHABLE
    assert "codex-runner serve" in caught.value.message
    assert TOKEN not in caught.value.message


async def test_an_answer_that_is_not_the_api_is_an_error_naming_the_versions() -> None:
    def garbage(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"unexpected": True})

    with pytest.raises(RunnerError, match="same version"):
        await backend(httpx.MockTransport(garbage)).get_task("t_x")


async def test_following_events_reads_the_streams_durable_events_and_skips_the_rest() -> None:
    event = {"task_id": "t_x", "seq": 3, "type": "turn.started", "at": "2026-01-01T00:00:00Z"}
    stream = (
        ": keepalive\n\n"
        f"id: 3\nevent: turn.started\ndata: {json.dumps({**event, 'data': {}})}\n\n"
        'event: codex.delta\ndata: {"kind": "text"}\n\n'
    )

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/events/stream"):
            assert request.url.params["after"] == "2"
            return httpx.Response(200, text=stream, headers={"content-type": "text/event-stream"})
        return httpx.Response(404)

    events = [e async for e in backend(httpx.MockTransport(answer)).follow_events("t_x", 2)]

    assert [(e.seq, e.type) for e in events] == [(3, "turn.started")]


async def test_a_locate_failure_is_the_calls_error() -> None:
    def nowhere() -> tuple[str, str]:
        raise RunnerError(DAEMON_UNREACHABLE, "no API token: start the daemon once")

    with pytest.raises(RunnerError, match="no API token"):
        await DaemonBackend(nowhere).get_task("t_x")


async def test_list_filters_and_a_messages_overrides_reach_the_api() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "GET":
            return httpx.Response(200, json={"tasks": []})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": "no t_x"}})

    api = backend(httpx.MockTransport(answer))
    query = TaskQuery(purpose="review", metadata={"ticket": "ENG-42"}, offset=5, graph_id="g_1")
    await api.list_tasks(query)
    with pytest.raises(RunnerError):
        await api.send_message("t_x", MessageBody(prompt="more", model="m2", summary="concise"))

    listed, messaged = seen
    assert sorted(listed.url.params.multi_items()) == [
        ("graph_id", "g_1"),
        ("limit", "50"),
        ("metadata.ticket", "ENG-42"),
        ("offset", "5"),
        ("purpose", "review"),
    ]
    assert json.loads(messaged.content) == {"prompt": "more", "model": "m2", "summary": "concise"}
