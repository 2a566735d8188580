"""The MCP tools take the task's session options, purpose, metadata and an output schema,
one turn's overrides on send_message, and list_tasks' filters; a task's result comes back."""

from __future__ import annotations

from typing import Any

from .conftest import VERDICT, Tools

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"type": "string"}, "issues": {"type": "array"}},
    "required": ["verdict", "issues"],
    "additionalProperties": False,
}


async def test_submit_task_keeps_the_options_and_the_result_matches_the_schema(
    tools: Tools,
) -> None:
    task = await tools.ok(
        "submit_task",
        prompt="json: review the change",
        developer_instructions="Answer in JSON.",
        personality="pragmatic",
        service_tier="fast",
        model_provider="openai",
        config={"model_verbosity": "low"},
        ephemeral=True,
        purpose="review",
        metadata={"ticket": "ENG-42"},
        output_schema=SCHEMA,
        summary="concise",
    )

    assert task["developer_instructions"] == "Answer in JSON."
    assert (task["personality"], task["service_tier"], task["model_provider"]) == (
        "pragmatic",
        "fast",
        "openai",
    )
    assert (task["config"], task["ephemeral"]) == ({"model_verbosity": "low"}, True)
    assert (task["purpose"], task["metadata"]) == ("review", {"ticket": "ENG-42"})
    waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    assert waited["task"]["state"] == "completed", waited
    assert (waited["task"]["has_result"], waited["task"]["result"]) == (True, VERDICT)
    got = await tools.ok("get_task", task_id=task["id"])
    assert got["result"] == VERDICT


async def test_a_reply_that_does_not_match_the_schema_fails_the_task(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="plain words", output_schema=SCHEMA)

    waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    assert waited["task"]["state"] == "failed"
    assert "output_schema_mismatch" in (waited["task"]["reason"] or "")
    assert waited["task"]["has_result"] is False


async def test_bad_options_are_refused_naming_the_argument(tools: Tools) -> None:
    escape = await tools.error("submit_task", prompt="x", config={"sandbox_mode": "x"})
    label = await tools.error("submit_task", prompt="x", purpose="Not A Label")
    tier = await tools.error("submit_task", prompt="x", service_tier="slow")
    schema = await tools.error("submit_task", prompt="x", output_schema={"type": 5})

    assert "sandbox_mode" in escape and "task_config_keys" in escape
    assert "purpose" in label
    assert "service_tier" in tier
    assert "output_schema" in schema
    assert (await tools.ok("list_tasks"))["tasks"] == []


async def test_send_message_overrides_hold_for_its_turn_and_give_a_result(tools: Tools) -> None:
    task = await tools.ok("submit_task", prompt="fix it")
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    refused = await tools.error("send_message", task_id=task["id"], prompt="x", summary="loud")
    again = await tools.ok(
        "send_message",
        task_id=task["id"],
        prompt="json: and now judge it",
        model="m2",
        effort="high",
        summary="detailed",
        sandbox="read-only",
        approval_policy="never",
        output_schema=SCHEMA,
    )
    waited = await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    assert "summary" in refused
    assert again["state"] == "queued"
    assert waited["task"]["state"] == "completed", waited
    assert waited["task"]["result"] == VERDICT
    assert waited["task"]["model"] is None  # the task's own model is back after the turn


async def test_list_tasks_filters_by_purpose_metadata_graph_and_offset(tools: Tools) -> None:
    review = await tools.ok(
        "submit_task", prompt="a", purpose="review", metadata={"ticket": "ENG-1", "team": "x"}
    )
    other = await tools.ok("submit_task", prompt="b", purpose="review", metadata={"ticket": "2"})
    await tools.ok("submit_task", prompt="c")
    graph = await tools.ok("start_graph", children=[{"key": "k", "prompt": "d"}])

    def ids(listed: dict[str, Any]) -> list[str]:
        return [t["id"] for t in listed["tasks"]]

    by_purpose = ids(await tools.ok("list_tasks", purpose="review"))
    by_metadata = ids(await tools.ok("list_tasks", metadata={"ticket": "ENG-1", "team": "x"}))
    none_match = ids(await tools.ok("list_tasks", metadata={"ticket": "ENG-1", "team": "y"}))
    in_graph = ids(await tools.ok("list_tasks", graph_id=graph["id"]))
    everything = ids(await tools.ok("list_tasks"))
    skipped = ids(await tools.ok("list_tasks", offset=1))

    assert sorted(by_purpose) == sorted([review["id"], other["id"]])
    assert by_metadata == [review["id"]]
    assert none_match == []
    assert set(in_graph) == {graph["parent"]["id"], graph["children"][0]["id"]}
    assert skipped == everything[1:]


async def test_start_graph_gives_every_task_its_options_and_a_child_its_schema(
    tools: Tools,
) -> None:
    graph = await tools.ok(
        "start_graph",
        children=[
            {"key": "a", "prompt": "json: grade", "output_schema": SCHEMA},
            {"key": "b", "prompt": "fix it"},
        ],
        developer_instructions="Be brief.",
        purpose="nightly",
        metadata={"run": "7"},
    )

    members = [graph["parent"], *graph["children"]]
    assert {(t["purpose"], t["metadata"]["run"]) for t in members} == {("nightly", "7")}
    assert {t["developer_instructions"] for t in members} == {"Be brief."}
    child = next(c for c in graph["children"] if c["key"] == "a")
    waited = await tools.ok("wait_task", task_id=child["id"], timeout_s=10)
    assert waited["task"]["result"] == VERDICT
    refused = await tools.error(
        "start_graph", children=[{"key": "a", "prompt": "x", "output_schema": {"type": 5}}]
    )
    assert "output_schema" in refused


async def test_images_in_the_workspace_go_with_the_prompt_and_the_follow_up(tools: Tools) -> None:
    (tools.plain_dir / "shot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    task = await tools.ok("submit_task", prompt="fix it", images=["shot.png"])
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)
    await tools.ok("send_message", task_id=task["id"], prompt="fix it", images=["shot.png"])
    await tools.ok("wait_task", task_id=task["id"], timeout_s=10)

    shot = str((tools.plain_dir / "shot.png").resolve())
    assert tools.runtime.images == [[shot], [shot]]
    outside = await tools.error("submit_task", prompt="x", images=["../elsewhere.png"])
    assert "outside the workspace" in outside
