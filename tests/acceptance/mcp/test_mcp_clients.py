"""The MCP SDK's own client against a real daemon (real codex, scripted model), over the
daemon's Streamable HTTP endpoint and over ``codex-runner mcp`` on stdio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp_types import TextResourceContents

from .conftest import StartDaemon, Tools, mcp_client

pytestmark = [pytest.mark.acceptance, pytest.mark.parametrize("transport", ["http", "stdio"])]


async def test_a_task_is_submitted_waited_for_and_read_with_its_events_and_diff(
    start_daemon: StartDaemon, repo: Path, transport: str
) -> None:
    daemon = await start_daemon(mcp={"repo": str(repo)})
    async with mcp_client(daemon, transport) as client:
        tools = Tools(client)
        task = await tools.ok("submit_task", prompt="write notes")
        assert task["repo"] == str(repo)  # tmp_path is resolved already

        progress: list[str | None] = []

        async def record(value: float, total: float | None, message: str | None) -> None:
            progress.append(message)

        result = await client.call_tool(
            "wait_task", {"task_id": task["id"], "timeout_s": 60}, progress_callback=record
        )

        assert result.structured_content is not None, result.content
        waited = result.structured_content
        assert waited["outcome"] == "settled", waited
        assert progress and all(m and "latest event" in m for m in progress)
        assert waited["task"]["state"] == "completed"
        assert waited["task"]["final_message"] == "wrote notes"
        listed = await tools.ok("list_tasks", states=["completed"])
        assert task["id"] in [t["id"] for t in listed["tasks"]]
        events = await tools.ok("get_task_events", task_id=task["id"], after=1)
        assert events["events"][0]["seq"] == 2
        assert "task.state_changed" in [e["type"] for e in events["events"]]
        diff = await tools.ok("get_task_diff", task_id=task["id"])
        assert "+notes" in diff["diff"]
        read = await client.read_resource(f"task://{task['id']}")
        (content,) = read.contents
        assert isinstance(content, TextResourceContents)
        assert json.loads(content.text)["diff"] == diff["diff"]


async def test_an_approval_is_found_decided_and_the_task_goes_on(
    start_daemon: StartDaemon, tmp_path: Path, transport: str
) -> None:
    daemon = await start_daemon(mcp={"cwd": str(tmp_path)})
    async with mcp_client(daemon, transport) as client:
        tools = Tools(client)
        task = await tools.ok("submit_task", prompt="needs approval", approval_policy="on-request")

        waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=60)

        assert waited["outcome"] == "awaiting_approval", waited
        (approval,) = (await tools.ok("list_approvals", task_id=task["id"]))["approvals"]
        refused = await tools.error("decide_approval", approval_id=approval["id"], decision="no")
        assert "decision" in refused
        decision = approval["available_decisions"][0]
        await tools.ok("decide_approval", approval_id=approval["id"], decision=decision)
        done = await tools.ok("wait_task", task_id=task["id"], timeout_s=60)
        assert done["outcome"] == "settled"
        assert done["task"]["final_message"] == "approved and done"


async def test_refusals_are_tool_errors_that_name_the_problem_and_the_fix(
    start_daemon: StartDaemon, tmp_path: Path, transport: str
) -> None:
    daemon = await start_daemon(mcp={"cwd": str(tmp_path)})
    token = (daemon.home / "api-token").read_text().strip()
    async with mcp_client(daemon, transport) as client:
        tools = Tools(client)
        missing = await tools.error("get_task", task_id="t_missing")
        bad = await tools.error("submit_task", prompt="x", sandbox="everything")
        done = await tools.ok("submit_task", prompt="quick")
        await tools.ok("wait_task", task_id=done["id"], timeout_s=60)
        steer = await tools.error("steer_task", task_id=done["id"], prompt="more")

    assert "t_missing" in missing and "list_tasks" in missing
    assert "sandbox" in bad
    assert "send_message" in steer
    for text in (missing, bad, steer):
        assert "Traceback" not in text and token not in text
