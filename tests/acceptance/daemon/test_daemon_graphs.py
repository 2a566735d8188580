"""Graphs through the CLI and the API: dependency order, the parent last, failure blocking."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from .conftest import StartDaemon
from .harness import TERMINAL, all_events, wait_state

STATE_CHANGE = "task.state_changed"

pytestmark = pytest.mark.acceptance


async def test_a_diamond_graph_runs_in_dependency_order_and_the_parent_gets_the_results(
    start_daemon: StartDaemon, repo: Path, tmp_path: Path
) -> None:
    daemon = await start_daemon(service={"max_concurrent_tasks": 4})
    spec = {
        "prompt": "Coordinate: review the children's work",
        "repo": str(repo),
        "children": [
            {"key": "base", "prompt": "quick base"},
            {"key": "left", "prompt": "quick left", "depends_on": ["base"]},
            {"key": "right", "prompt": "write notes", "depends_on": ["base"]},
            {"key": "top", "prompt": "quick top", "depends_on": ["left", "right"]},
        ],
    }
    spec_file = tmp_path / "graph.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    code, out, err = await daemon.cli("graph", "start", "--spec", str(spec_file), "--json")
    assert code == 0, err
    graph = json.loads(out)
    async with daemon.client() as client:
        parent = await wait_state(client, graph["parent"]["id"], TERMINAL, timeout=180)
        assert parent["state"] == "completed", parent
        view = (await client.get(f"/v1/graphs/{graph['id']}")).json()
    assert view["state"] == "completed"
    tasks = {c["key"]: c for c in view["children"]}
    assert all(t["state"] == "completed" for t in tasks.values())

    def before(a: str, b: str) -> bool:
        return bool(tasks[a]["finished_at"] <= tasks[b]["started_at"])

    assert before("base", "left") and before("base", "right")
    assert before("left", "top") and before("right", "top")
    assert max(t["finished_at"] for t in tasks.values()) <= view["parent"]["started_at"]
    # The parent's turn received each child's final message and branch.
    message = view["parent"]["final_message"]
    assert "Coordinate: review the children's work" in message
    for key in tasks:
        assert f"## {key} (" in message
    assert "wrote notes" in message and f"codex-runner/{tasks['right']['id']}" in message
    code, out, err = await daemon.cli("graph", "status", graph["id"])
    assert code == 0, err
    assert "completed" in out


async def test_a_failed_prerequisite_fails_its_dependents_which_never_start(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    body = {
        "cwd": str(repo),
        "children": [
            {"key": "broken", "prompt": "server error"},
            {"key": "after", "prompt": "quick after", "depends_on": ["broken"]},
            {"key": "independent", "prompt": "quick independent"},
        ],
    }
    async with daemon.client() as client:
        response = await client.post("/v1/graphs", json=body)
        assert response.status_code == 201, response.text
        graph = response.json()
        await wait_state(client, graph["parent"]["id"], TERMINAL, timeout=120)
        view = (await client.get(f"/v1/graphs/{graph['id']}")).json()
        tasks = {c["key"]: c for c in view["children"]}
        assert tasks["broken"]["state"] == "failed"
        assert tasks["after"]["state"] == "failed"
        assert tasks["after"]["reason"].startswith("dependency_failed")
        assert tasks["after"]["attempts"] == 0 and tasks["after"]["thread_id"] is None
        independent = await wait_state(client, tasks["independent"]["id"], TERMINAL)
        assert independent["state"] == "completed"
        assert view["state"] == "failed"
        resume = await client.post(f"/v1/tasks/{tasks['independent']['id']}/resume", json={})
        assert resume.status_code == 409  # resuming a completed child is a bad transition
        cyclic = {
            "cwd": str(repo),
            "children": [
                {"key": "a", "prompt": "x", "depends_on": ["b"]},
                {"key": "b", "prompt": "y", "depends_on": ["a"]},
            ],
        }
        refused = await client.post("/v1/graphs", json=cyclic)
        assert refused.status_code == 422 and "cycle" in refused.json()["error"]["message"]


async def graph_stream(
    client: httpx.AsyncClient, graph_id: str, *, last_event_id: int | None = None
) -> AsyncIterator[tuple[int, dict[str, Any]]]:
    """The graph's SSE stream: (id, event) pairs, stored then live."""
    headers = {} if last_event_id is None else {"Last-Event-ID": str(last_event_id)}
    url = f"/v1/graphs/{graph_id}/events/stream"
    async with client.stream("GET", url, headers=headers, timeout=None) as response:
        assert response.status_code == 200, await response.aread()
        seq = None
        async for line in response.aiter_lines():
            if line.startswith("id:"):
                seq = int(line[3:].strip())
            elif line.startswith("data:"):
                assert seq is not None
                yield seq, json.loads(line[5:].strip())


async def test_a_graph_with_max_concurrent_one_runs_one_child_at_a_time_and_reports_as_it_goes(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(service={"max_concurrent_tasks": 4})
    body = {
        "cwd": str(repo),
        "max_concurrent": 1,
        "children": [
            {"key": "a", "prompt": "quick a"},
            {"key": "b", "prompt": "quick b"},
            {"key": "c", "prompt": "quick c", "depends_on": ["a"]},
        ],
    }
    async with daemon.client() as client:
        response = await client.post("/v1/graphs", json=body)
        assert response.status_code == 201, response.text
        graph = response.json()
        assert graph["max_concurrent"] == 1
        ids = {c["key"]: c["id"] for c in graph["children"]}
        seen: list[tuple[int, dict[str, Any]]] = []
        async with asyncio.timeout(180):
            async for seq, event in graph_stream(client, graph["id"]):
                seen.append((seq, event))
                if event["type"] == "graph.child_completed":
                    break  # leave mid-graph, then come back where it left off
            async for seq, event in graph_stream(client, ids["c"], last_event_id=seen[-1][0]):
                seen.append((seq, event))
                if event["type"] in ("graph.completed", "graph.failed"):
                    break
        assert [seq for seq, _ in seen] == list(range(1, len(seen) + 1))
        assert [(e["type"], e["data"].get("key")) for _, e in seen] == [
            ("graph.created", None),
            ("graph.child_started", "a"),
            ("graph.child_completed", "a"),
            ("graph.dependency_satisfied", "c"),
            ("graph.child_started", "b"),
            ("graph.child_completed", "b"),
            ("graph.child_started", "c"),
            ("graph.child_completed", "c"),
            ("graph.completed", None),
        ]
        page = (await client.get(f"/v1/graphs/{ids['b']}/events")).json()
        assert [(e["seq"], e["type"]) for e in page["events"]] == [
            (seq, e["type"]) for seq, e in seen
        ]
        spans = []
        for task_id in ids.values():
            changes = [e for e in await all_events(client, task_id) if e["type"] == STATE_CHANGE]
            started = [e["at"] for e in changes if e["data"]["to"] == "running"]
            finished = [e["at"] for e in changes if e["data"]["to"] == "completed"]
            assert len(started) == 1 and len(finished) == 1
            spans.append((started[0], finished[0]))
    spans.sort()
    for (_, finished), (started, _) in itertools.pairwise(spans):
        assert finished <= started, spans  # never two children at once
    code, out, err = await daemon.cli("graph", "status", ids["c"])  # a child names its graph
    assert code == 0, err
    rows = [tuple(line.split("\t")[:3]) for line in out.splitlines()[1:]]
    assert rows[0] == ("(parent)", graph["parent"]["id"], "completed")
    assert sorted(rows[1:]) == [(key, ids[key], "completed") for key in ("a", "b", "c")]
