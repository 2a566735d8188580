from __future__ import annotations

from typing import Any

import pytest

from codex_runner.domain.task import TaskState

from .conftest import Harness


def _graph(harness: Harness, **fields: Any) -> dict[str, Any]:
    return {
        "cwd": str(harness.plain_dir),
        "children": [
            {"key": "a", "prompt": "do a"},
            {"key": "b", "prompt": "do b", "depends_on": ["a"]},
        ],
        **fields,
    }


async def test_submit_a_graph_and_read_it_until_it_completes(harness: Harness) -> None:
    response = await harness.post("/v1/graphs", _graph(harness))
    assert response.status_code == 201, response.text
    graph = response.json()
    assert graph["id"].startswith("g_")
    assert [c["key"] for c in graph["children"]] == ["a", "b"]
    a, b = graph["children"]
    assert b["depends_on"] == [a["id"]]
    assert graph["parent"]["graph_id"] == graph["id"]
    assert graph["blocked"] == []

    await harness.wait_state(graph["parent"]["id"], TaskState.COMPLETED)
    read = await harness.get(f"/v1/graphs/{graph['id']}")
    assert read.status_code == 200
    assert read.json()["state"] == "completed"
    assert {c["state"] for c in read.json()["children"]} == {"completed"}
    tasks = (await harness.get("/v1/tasks", graph_id=graph["id"])).json()["tasks"]
    assert len(tasks) == 3


async def test_resuming_a_completed_child_is_409(harness: Harness) -> None:
    graph = (await harness.post("/v1/graphs", _graph(harness))).json()
    child = graph["children"][0]["id"]
    await harness.wait_state(child, TaskState.COMPLETED)
    response = await harness.post(f"/v1/tasks/{child}/resume", {})
    assert response.status_code == 409
    assert "actions allowed from completed: message" in response.json()["error"]["message"]


async def test_an_idempotent_graph_is_created_once(harness: Harness) -> None:
    body = _graph(harness, idempotency_key="graph-1", prompt="wait and sum up")
    first = await harness.post("/v1/graphs", body)
    second = await harness.post("/v1/graphs", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(await harness.service.list_tasks()) == 3


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"children": []}, "children"),
        ({"children": [{"key": "a", "prompt": "x", "depends_on": ["zz"]}]}, "children"),
        (
            {
                "children": [
                    {"key": "a", "prompt": "x", "depends_on": ["b"]},
                    {"key": "b", "prompt": "y", "depends_on": ["a"]},
                ]
            },
            "children",
        ),
        ({"children": [{"key": "a", "prompt": ""}]}, "children[0].prompt"),
        ({"cwd": None}, "repo"),
        ({"repo": "/somewhere"}, "cwd"),
        ({"cwd": "/no/such/dir/anywhere"}, "cwd"),
        ({"max_concurrent": 0}, "max_concurrent"),
        ({"max_concurrent": "two"}, "max_concurrent"),
    ],
)
async def test_bad_graphs_are_422_and_create_nothing(
    harness: Harness, change: dict[str, Any], field: str
) -> None:
    response = await harness.post("/v1/graphs", _graph(harness) | change)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert await harness.service.list_tasks() == []


async def test_unknown_graph_is_404(harness: Harness) -> None:
    response = await harness.get("/v1/graphs/g_missing")
    assert response.status_code == 404
    assert "g_missing" in response.json()["error"]["message"]


async def test_a_childs_task_id_names_its_graph(harness: Harness) -> None:
    graph = (await harness.post("/v1/graphs", _graph(harness, max_concurrent=1))).json()
    assert graph["max_concurrent"] == 1
    for task in (graph["children"][1], graph["parent"]):
        read = await harness.get(f"/v1/graphs/{task['id']}")
        assert read.status_code == 200, read.text
        assert read.json()["id"] == graph["id"]
        assert read.json()["max_concurrent"] == 1
    lone = (await harness.post("/v1/tasks", {"prompt": "x", "cwd": str(harness.plain_dir)})).json()
    response = await harness.get(f"/v1/graphs/{lone['id']}")
    assert response.status_code == 404
    assert lone["id"] in response.json()["error"]["message"]
