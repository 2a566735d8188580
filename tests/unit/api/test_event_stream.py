"""The SSE feed against a real uvicorn on 127.0.0.1 (httpx's ASGITransport buffers whole
responses, so it cannot show a stream that has not ended)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn

from codex_runner.api.app import create_app
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.task import TaskState
from codex_runner.http.sse import EventStreams
from codex_runner.service.delta_channel import MAX_PENDING_ITEMS

from .conftest import AUTH, TOKEN, Harness

KEEPALIVE_S = 0.2
WAIT_S = 10.0


@dataclass(frozen=True)
class Sse:
    id: int | None
    event: str | None
    data: dict[str, Any] | None
    comment: str | None = None


async def read_sse(response: httpx.Response) -> AsyncIterator[Sse]:
    """Parse a text/event-stream body into messages and comments."""
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            yield Sse(None, None, None, comment=line[1:].strip())
        elif line == "":
            if fields:
                yield Sse(
                    int(fields["id"]) if "id" in fields else None,
                    fields.get("event"),
                    json.loads(fields["data"]) if "data" in fields else None,
                )
                fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")


async def events_of(messages: AsyncIterator[Sse], *, until_seq: int | None = None) -> list[Sse]:
    """Messages (keepalives skipped) until ``until_seq`` or the end of the stream."""
    out: list[Sse] = []
    async for message in messages:
        if message.comment is not None:
            continue
        out.append(message)
        if until_seq is not None and message.id is not None and message.id >= until_seq:
            break
    return out


@dataclass
class Served:
    base_url: str
    streams: EventStreams
    client: httpx.AsyncClient

    def stream(self, task_id: str, headers: dict[str, str] | None = None, **params: Any) -> Any:
        return self.client.stream(
            "GET",
            f"/v1/tasks/{task_id}/events/stream",
            params=params,
            headers={**AUTH, **(headers or {})},
        )


@pytest.fixture
async def served(harness: Harness) -> AsyncIterator[Served]:
    app = create_app(harness.service, token=TOKEN, ready=lambda: True, sse_keepalive_s=KEEPALIVE_S)
    streams: EventStreams = app.state.event_streams
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)  # listening before uvicorn starts: early connections wait in the backlog
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    base_url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base_url, trust_env=False, timeout=WAIT_S) as client:
            yield Served(base_url, streams, client)
    finally:
        streams.close_all()
        server.should_exit = True
        async with asyncio.timeout(WAIT_S):
            await serving
        sock.close()


async def test_catch_up_then_live_until_terminal(harness: Harness, served: Served) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    stored = await harness.service.read_events(task["id"])
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], until_terminal="true") as response:
            messages = read_sse(response)
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            caught_up = await events_of(messages, until_seq=stored[-1].seq)
            harness.runtime.gate.set()  # now the rest arrives live
            live = await events_of(messages)  # ends by itself: until_terminal
    got = caught_up + live
    every = await harness.service.read_events(task["id"])
    assert [m.id for m in got] == [e.seq for e in every]  # no gap, no duplicate
    assert [m.event for m in got] == [e.type for e in every]
    assert got[-1].data is not None and got[-1].data["data"]["to"] == "completed"
    assert got[0].data == {
        "task_id": task["id"],
        "seq": 1,
        "type": "task.created",
        "at": got[0].data["at"],
        "data": every[0].data,
    }


async def test_reconnecting_with_last_event_id_resumes_without_duplicates(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"]) as response:
            messages = read_sse(response)
            first = await events_of(messages, until_seq=2)
        assert [m.id for m in first] == [1, 2]
        harness.runtime.gate.set()
        await harness.wait_state(task["id"], TaskState.COMPLETED)
        async with served.stream(
            task["id"], headers={"Last-Event-ID": "2"}, after=0, until_terminal="true"
        ) as response:
            messages = read_sse(response)
            rest = await events_of(messages)
        async with served.stream(task["id"], after=3, until_terminal="true") as response:
            messages = read_sse(response)
            from_query = await events_of(messages)
    every = [e.seq for e in await harness.service.read_events(task["id"])]
    assert [m.id for m in first + rest] == every
    assert [m.id for m in from_query] == every[3:]


async def test_until_terminal_on_a_settled_task_that_was_read_ends_at_once(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    last = (await harness.service.read_events(task["id"]))[-1].seq
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], after=last, until_terminal="true") as response:
            messages = read_sse(response)
            assert await events_of(messages) == []


async def test_until_terminal_after_the_settling_event_ends_after_later_adapter_events(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    settling = (await harness.service.read_events(task["id"]))[-1].seq
    noted = await harness.service.record_event(task["id"], "slack.delivered", {"op": "post"})
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], after=settling, until_terminal="true") as response:
            messages = read_sse(response)
            assert [m.id for m in await events_of(messages)] == [noted.seq]


async def test_a_follow_up_keeps_the_stream_open_past_the_first_completion(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("wait first")
    harness.runtime.gate.set()
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    harness.runtime.gate.clear()
    await harness.service.message(task["id"], "wait again")
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], until_terminal="true") as response:
            messages = read_sse(response)
            stored = await harness.service.read_events(task["id"])
            caught_up = await events_of(messages, until_seq=stored[-1].seq)
            harness.runtime.gate.set()
            live = await events_of(messages)
    states = [m.data["data"]["to"] for m in caught_up + live if m.event == "task.state_changed"]
    assert states.count("completed") == 2
    assert states[-1] == "completed"


async def test_quiet_streams_get_keepalive_comments(harness: Harness, served: Served) -> None:
    task = await harness.submit("wait quietly")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    last = (await harness.service.read_events(task["id"]))[-1].seq
    async with asyncio.timeout(WAIT_S), served.stream(task["id"], after=last) as response:
        async for message in read_sse(response):
            assert message.comment == "keepalive"  # nothing else happens on this task
            break


async def test_a_client_that_leaves_leaves_nothing_behind(harness: Harness, served: Served) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    assert harness.bus.subscriber_count() == 0
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"]) as response:
            messages = read_sse(response)
            await events_of(messages, until_seq=1)
            assert served.streams.open_count == 1
        await served.streams.wait_closed(WAIT_S)
    assert served.streams.open_count == 0
    assert harness.bus.subscriber_count() == 0


async def test_close_all_ends_open_streams(harness: Harness, served: Served) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    async with asyncio.timeout(WAIT_S), served.stream(task["id"]) as response:
        messages = read_sse(response)
        await events_of(messages, until_seq=1)
        served.streams.close_all()
        rest = await events_of(messages)  # the response ends
        assert all(m.id is not None for m in rest)
    await served.streams.wait_closed(WAIT_S)


async def test_a_bad_last_event_id_is_422(harness: Harness, served: Served) -> None:
    task = await harness.submit("quick")
    async with served.stream(task["id"], headers={"Last-Event-ID": "abc"}) as response:
        await response.aread()
    assert response.status_code == 422
    assert json.loads(response.content)["error"]["field"] == "Last-Event-ID"


async def test_the_stream_needs_the_token(harness: Harness, served: Served) -> None:
    task = await harness.submit("quick")
    response = await served.client.get(f"/v1/tasks/{task['id']}/events/stream")
    assert response.status_code == 401


def _delta(item: str, text: str) -> Delta:
    return Delta(item, DeltaKind.AGENT_MESSAGE, text)


async def test_deltas_true_interleaves_live_deltas_without_ids(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    stored = await harness.service.read_events(task["id"])
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], deltas="true", until_terminal="true") as response:
            messages = read_sse(response)
            await events_of(messages, until_seq=stored[-1].seq)
            for piece in ("Hel", "lo", " world"):  # one burst: coalesced into one delta
                harness.bus.publish_delta(task["id"], _delta("m1", piece))
            got = await anext(_skip_comments(messages))
            assert (got.id, got.event) == (None, "codex.delta")
            assert got.data == {"item_id": "m1", "kind": "agent_message", "text": "Hello world"}
            # Inside the coalescing window, then a durable event: the delta still goes first.
            harness.bus.publish_delta(task["id"], _delta("m1", "!"))
            harness.runtime.gate.set()
            rest = await events_of(messages)
    assert rest[0].event == "codex.delta" and rest[0].data is not None
    assert rest[0].data["text"] == "!"
    every = await harness.service.read_events(task["id"])
    assert [m.id for m in rest[1:]] == [e.seq for e in every if e.seq > stored[-1].seq]


async def test_without_deltas_true_no_delta_is_sent(harness: Harness, served: Served) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], until_terminal="true") as response:
            messages = read_sse(response)
            await events_of(messages, until_seq=1)
            harness.bus.publish_delta(task["id"], _delta("m1", "not for this client"))
            harness.runtime.gate.set()
            rest = await events_of(messages)
    assert all(m.id is not None for m in rest)


async def test_a_client_too_slow_for_deltas_gets_every_durable_event_and_one_notice(
    harness: Harness, served: Served
) -> None:
    task = await harness.submit("wait for the gate")
    await harness.wait_state(task["id"], TaskState.RUNNING)
    async with asyncio.timeout(WAIT_S):
        async with served.stream(task["id"], deltas="true", until_terminal="true") as response:
            messages = read_sse(response)
            first = await events_of(messages, until_seq=1)
            # More items than a subscription holds arrive before the client reads any.
            for n in range(2 * MAX_PENDING_ITEMS):
                harness.bus.publish_delta(task["id"], _delta(f"m{n}", "x"))
            harness.runtime.gate.set()
            rest = await events_of(messages)
    got = first + rest
    assert [m.event for m in got].count("codex.deltas_dropped") == 1
    assert not [m for m in got if m.event == "codex.delta"]
    every = await harness.service.read_events(task["id"])
    assert [m.id for m in got if m.id is not None] == [e.seq for e in every]
    assert harness.bus.subscriber_count() == 0


async def _skip_comments(messages: AsyncIterator[Sse]) -> AsyncIterator[Sse]:
    async for message in messages:
        if message.comment is None:
            yield message
