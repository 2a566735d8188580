"""A graph's own event stream: pages, and the SSE feed resumed with Last-Event-ID."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from codex_runner.domain.task import TaskState

from .conftest import AUTH, Harness
from .test_event_stream import WAIT_S, Served, events_of, read_sse
from .test_event_stream import served as served  # the fixture, re-exported here

ONE_AT_A_TIME = [
    "graph.created",
    "graph.child_started",  # a
    "graph.child_completed",  # a
    "graph.dependency_satisfied",  # b
    "graph.child_started",  # b
    "graph.child_completed",  # b
    "graph.completed",
]


def graph_body(harness: Harness, first: str, second: str, **fields: Any) -> dict[str, Any]:
    return {
        "cwd": str(harness.plain_dir),
        "children": [
            {"key": "a", "prompt": first},
            {"key": "b", "prompt": second, "depends_on": ["a"]},
        ],
        **fields,
    }


async def test_the_graph_stream_reads_in_its_own_numbering_by_graph_or_child_id(
    harness: Harness,
) -> None:
    graph = (await harness.post("/v1/graphs", graph_body(harness, "do a", "do b"))).json()
    await harness.wait_state(graph["parent"]["id"], TaskState.COMPLETED)
    child = graph["children"][1]["id"]
    for named_by in (graph["id"], child):
        page = (await harness.get(f"/v1/graphs/{named_by}/events")).json()
        assert [e["type"] for e in page["events"]] == ONE_AT_A_TIME
        assert [e["seq"] for e in page["events"]] == list(range(1, 8))
        assert page["last_seq"] == 7
    events = page["events"]
    assert {e["task_id"] for e in events} == {graph["parent"]["id"]}
    parent_seqs = [e["data"]["parent_seq"] for e in events]
    assert parent_seqs == sorted(parent_seqs) and parent_seqs[0] == 2  # after task.created
    assert [e["data"].get("key") for e in events[1:6]] == ["a", "a", "b", "b", "b"]
    rest = (await harness.get(f"/v1/graphs/{graph['id']}/events", after=3, limit=2)).json()
    assert [e["seq"] for e in rest["events"]] == [4, 5]
    assert rest["events"] == events[3:5]
    assert rest["last_seq"] == 5
    past = (await harness.get(f"/v1/graphs/{graph['id']}/events", after=7)).json()
    assert past == {"events": [], "last_seq": 7}
    assert (await harness.get("/v1/graphs/g_missing/events")).status_code == 404
    assert (await harness.get("/v1/graphs/g_missing/events/stream")).status_code == 404


async def test_a_failed_child_fails_the_graph_on_its_stream(harness: Harness) -> None:
    body = graph_body(harness, "do a", "do b")
    graph = (await harness.post("/v1/graphs", body)).json()
    first = graph["children"][0]["id"]
    await harness.wait_state(graph["parent"]["id"], TaskState.COMPLETED)
    assert first  # the happy path is above; here: cancel a queued graph's child
    gated = (await harness.post("/v1/graphs", graph_body(harness, "wait a", "do b"))).json()
    a = gated["children"][0]["id"]
    await harness.wait_state(a, TaskState.RUNNING)
    assert (await harness.post(f"/v1/tasks/{a}/cancel", {})).status_code == 200
    await harness.wait_state(gated["parent"]["id"], TaskState.FAILED)
    page = (await harness.get(f"/v1/graphs/{gated['id']}/events")).json()
    got = [(e["type"], e["data"].get("key"), e["data"].get("state")) for e in page["events"]]
    assert got[:3] == [
        ("graph.created", None, None),
        ("graph.child_started", "a", None),
        ("graph.child_failed", "a", "cancelled"),
    ]
    assert ("graph.failed", None, "failed") in got
    assert [e["seq"] for e in page["events"]] == list(range(1, len(got) + 1))


async def test_a_graph_with_max_concurrent_one_runs_its_children_one_after_another_live(
    harness: Harness, served: Served
) -> None:
    body = {
        "cwd": str(harness.plain_dir),
        "max_concurrent": 1,
        "children": [{"key": k, "prompt": f"wait {k}"} for k in ("a", "b", "c")],
    }
    graph = (await harness.post("/v1/graphs", body)).json()
    url = f"/v1/graphs/{graph['children'][2]['id']}/events/stream"
    async with asyncio.timeout(WAIT_S):
        async with served.client.stream("GET", url, headers=AUTH) as response:
            assert response.status_code == 200
            first = await events_of(read_sse(response), until_seq=2)
        assert [m.event for m in first] == ["graph.created", "graph.child_started"]
        harness.runtime.gate.set()  # every child may finish now, one after another
        await harness.wait_state(graph["parent"]["id"], TaskState.COMPLETED)
        resumed = {**AUTH, "Last-Event-ID": "2"}
        async with served.client.stream("GET", url, headers=resumed) as response:
            rest = await events_of(read_sse(response), until_seq=8)
    assert [m.id for m in first + rest] == list(range(1, 9))  # gapless from where it left off
    types = [m.event for m in first + rest]
    assert types.count("graph.child_started") == 3
    assert types[-1] == "graph.completed"
    children = [await harness.service.get(c["id"]) for c in graph["children"]]
    spans = sorted((c.started_at, c.finished_at) for c in children)
    for (_, finished), (started, _) in itertools.pairwise(spans):
        assert finished is not None and started is not None and finished <= started
