"""The real codex binary as an MCP client of codex-runner: a task's model calls
``submit_task`` and ``wait_task`` on ``codex-runner mcp`` and so delegates to a second task,
whose answer comes back to it. One agent delegating to another through codex-runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from ..daemon.harness import CLI, TERMINAL, wait_state
from .conftest import CHILD_ANSWER, StartDaemon

pytestmark = pytest.mark.acceptance


async def test_a_codex_task_delegates_to_another_task_through_the_mcp_server(
    start_daemon: StartDaemon, mcp_model: MockModelServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"  # the daemon's, which start_daemon makes
    runner_server = {
        "command": CLI[0],
        "args": [*CLI[1:], "mcp"],
        "env": {"CODEX_RUNNER_HOME": str(home)},
        # The daemon's tasks run with approval policy "never": Codex would refuse a tool
        # call that needs asking, so this server's tools need none.
        "default_tools_approval_mode": "approve",
        "tool_timeout_sec": 120,
        # Codex then waits for the server before the thread's first model call (else the
        # first call may come before the server has listed its tools).
        "required": True,
    }
    daemon = await start_daemon(
        codex_config={"mcp_servers": {"runner": runner_server}}, mcp={"cwd": str(tmp_path)}
    )
    async with daemon.client() as client:
        response = await client.post(
            "/v1/tasks", json={"prompt": "delegate the work", "cwd": str(tmp_path)}
        )
        assert response.status_code == 201, response.text
        parent = await wait_state(client, response.json()["id"], TERMINAL, timeout=180)

        assert parent["state"] == "completed", parent
        assert parent["final_message"] == "delegated; the child is done"
        tasks = (await client.get("/v1/tasks")).json()["tasks"]
        children = [t for t in tasks if t["id"] != parent["id"]]
        told = [r.tool_outputs for r in mcp_model.requests]
        assert len(children) == 1, f"the model was told: {told}"
        (child,) = children
        assert child["prompt"] == "child work, please"
        assert (child["state"], child["final_message"]) == ("completed", CHILD_ANSWER)
    # What the delegating model was told: the child's task, then its settled result.
    delegating = [r for r in mcp_model.requests if r.last_user_text == "delegate the work"]
    offered = [t.get("name") for t in delegating[0].body["tools"]]
    assert "mcp__runner" in offered, offered
    submitted, waited = delegating[1].tool_outputs[-1], delegating[2].tool_outputs[-1]
    assert child["id"] in submitted
    assert '"outcome":"settled"' in waited.replace(" ", "") and CHILD_ANSWER in waited
