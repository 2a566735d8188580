"""Graphs through the CLI and the API: dependency order, the parent last, failure blocking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import StartDaemon
from .harness import TERMINAL, wait_state

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
