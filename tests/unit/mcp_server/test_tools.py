"""The MCP tools over the service: typed input, structured output, errors that say the fix."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from pathlib import Path

from mcp_types import TextResourceContents

from codex_runner.config import McpSettings
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import EventOut
from codex_runner.mcp_server.service_backend import ServiceBackend
from codex_runner.mcp_server.waiting import wait_for_task

from .conftest import Tools, tools_over

TOOLS = {
    "submit_task",
    "get_task",
    "list_tasks",
    "wait_task",
    "send_message",
    "steer_task",
    "interrupt_task",
    "cancel_task",
    "get_task_events",
    "get_task_diff",
    "list_approvals",
    "decide_approval",
    "start_graph",
    "get_graph",
}


async def test_every_tool_has_typed_input_and_structured_output(tools: Tools) -> None:
    listed = (await tools.client.list_tools()).tools

    assert {t.name for t in listed} == TOOLS
    for tool in listed:
        assert tool.output_schema is not None, tool.name
        assert tool.description, tool.name


async def test_submit_task_with_a_prompt_alone_runs_where_the_config_says(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it")

    assert task["cwd"] == str(tools.plain_dir.resolve())
    waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert waited["outcome"] == "settled"
    assert waited["task"]["state"] == "completed"
    assert waited["task"]["final_message"]


async def test_the_configured_repo_and_model_are_defaults_the_caller_overrides(
    tmp_path: Path,
) -> None:
    async for tools in tools_over(tmp_path, McpSettings(repo=str(tmp_path / "repo"), model="m1")):
        defaulted = await tools.ok("submit_task", prompt="fix it")
        chosen = await tools.ok(
            "submit_task", prompt="fix it", cwd=str(tools.plain_dir), model="m2"
        )

        assert (defaulted["repo"], defaulted["cwd"], defaulted["model"]) == (
            str(tools.repo.resolve()),
            None,
            "m1",
        )
        assert (chosen["repo"], chosen["cwd"], chosen["model"]) == (
            None,
            str(tools.plain_dir.resolve()),
            "m2",
        )


async def test_without_a_workspace_anywhere_submit_task_says_where_to_set_one(
    tmp_path: Path,
) -> None:
    async for tools in tools_over(tmp_path, McpSettings()):
        text = await tools.error("submit_task", prompt="fix it")

        assert "pass repo" in text and "[mcp]" in text
        assert (await tools.ok("list_tasks"))["tasks"] == []


async def test_a_bad_argument_is_named_with_the_fix(tools: Tools) -> None:
    text = await tools.error("submit_task", prompt="fix it", effort="enormous")

    assert "effort" in text
    assert "Traceback" not in text


async def test_an_unknown_task_is_a_tool_error_saying_how_to_find_the_right_id(
    tools: Tools,
) -> None:
    text = await tools.error("get_task", task_id="t_nope")

    assert "t_nope" in text
    assert "list_tasks" in text
    assert "Traceback" not in text


async def test_wait_task_says_timeout_while_the_task_runs_and_reports_progress(
    tools: Tools,
) -> None:
    task = await tools.ok("submit_task", prompt="wait for the gate")
    progress: list[tuple[float, float | None, str | None]] = []

    async def record(value: float, total: float | None, message: str | None) -> None:
        progress.append((value, total, message))

    result = await tools.client.call_tool(
        "wait_task", {"task_id": task["id"], "timeout_s": 0.3}, progress_callback=record
    )

    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert result.structured_content["outcome"] == "timeout"
    assert result.structured_content["task"]["state"] in ("queued", "running")
    assert progress and all(total == 0.3 for _, total, _ in progress)
    tools.runtime.gate.set()
    done = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert done["outcome"] == "settled"


async def test_wait_task_refuses_more_than_sixty_seconds(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it")

    text = await tools.error("wait_task", task_id=task["id"], timeout_s=61)

    assert "argument 'timeout_s'" in text and "60" in text
    assert "\n" not in text and "errors.pydantic.dev" not in text


async def test_an_approval_is_waited_for_listed_and_decided(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="ask first")

    waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert waited["outcome"] == "awaiting_approval"
    (approval,) = (await tools.ok("list_approvals", task_id=task["id"]))["approvals"]
    assert approval["available_decisions"] == ["accept", "decline"]
    refused = await tools.error("decide_approval", approval_id=approval["id"], decision="maybe")
    assert "accept, decline" in refused
    decided = await tools.ok("decide_approval", approval_id=approval["id"], decision="accept")
    assert (decided["decision"], decided["decided_by"]) == ("accept", "mcp")
    done = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert done["task"]["final_message"] == "done: ask first (accept)"


async def test_follow_ups_steering_and_stopping(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it")
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    steer = await tools.error("steer_task", task_id=task["id"], prompt="more")
    assert "send_message" in steer
    again = await tools.ok("send_message", task_id=task["id"], prompt="and the tests")
    assert again["state"] == "queued"
    second = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert second["outcome"] == "settled"
    running = await tools.ok("submit_task", prompt="wait here")
    await tools.wait_state(running["id"], TaskState.RUNNING)
    interrupted = await tools.ok("interrupt_task", task_id=running["id"])
    assert interrupted["state"] == "interrupted"
    cancelled = await tools.ok("cancel_task", task_id=running["id"])
    assert cancelled["state"] == "cancelled"
    text = await tools.error("cancel_task", task_id=running["id"])
    assert "get_task" in text


async def test_events_come_after_a_seq(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it")
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    first = await tools.ok("get_task_events", task_id=task["id"], limit=2)
    rest = await tools.ok("get_task_events", task_id=task["id"], after=first["last_seq"])

    assert [e["seq"] for e in first["events"]] == [1, 2]
    assert rest["events"][0]["seq"] == 3
    assert rest["events"][-1]["seq"] == rest["last_seq"]


async def test_a_repo_task_shows_its_diff_as_a_tool_and_a_resource(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it", repo=str(tools.repo))
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    diff = await tools.ok("get_task_diff", task_id=task["id"])
    read = await tools.client.read_resource(f"task://{task['id']}")

    assert diff["task_id"] == task["id"]
    (content,) = read.contents
    assert isinstance(content, TextResourceContents)
    shown = json.loads(content.text)
    assert shown["id"] == task["id"]
    assert shown["state"] == "completed"
    assert shown["final_message"]
    assert shown["diff"] == diff["diff"]


async def test_a_graph_starts_and_is_found_by_a_childs_id(tools: Tools) -> None:
    graph = await tools.ok(
        "start_graph",
        children=[
            {"key": "a", "prompt": "fix a"},
            {"key": "b", "prompt": "fix b", "depends_on": ["a"]},
        ],
        max_concurrent=1,
    )

    assert [c["key"] for c in graph["children"]] == ["a", "b"]
    assert graph["max_concurrent"] == 1
    child = graph["children"][1]["id"]
    found = await tools.ok("get_graph", graph_id=child)
    assert found["id"] == graph["id"]
    bad = await tools.error(
        "start_graph", children=[{"key": "a", "prompt": "x", "depends_on": ["zz"]}]
    )
    assert "zz" in bad


async def test_a_wait_follows_again_when_the_event_stream_ends(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="wait for the gate")
    backend = ServiceBackend(tools.service)
    follows: list[int] = []
    follow = backend.follow_events

    async def short_streams(task_id: str, after: int) -> AsyncGenerator[EventOut, None]:
        follows.append(after)
        async for event in follow(task_id, after):
            yield event
            if len(follows) == 1:
                tools.runtime.gate.set()
                return  # the first stream ends after one event, as when a daemon stops

    backend.follow_events = short_streams  # type: ignore[method-assign]

    async def ignore(value: float, total: float | None, message: str | None) -> None:
        return None

    waited = await wait_for_task(backend, task["id"], 10, ignore)

    assert waited.outcome == "settled"
    assert follows[0] == 0 and follows[1] >= 1
