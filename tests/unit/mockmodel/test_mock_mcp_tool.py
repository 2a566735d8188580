"""The ``mcp_tool`` step: a call of a tool of one of Codex's MCP servers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from codex_runner.mockmodel import Script, read_conversation
from codex_runner.mockmodel.answers import item_for
from codex_runner.mockmodel.script import McpToolStep, parse_step

NAMESPACE_TOOL = {"type": "namespace", "name": "mcp__runner", "tools": []}


def body(*outputs: str, tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    items: list[dict[str, Any]] = [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    ]
    for n, text in enumerate(outputs):
        items.append({"type": "function_call", "name": "x", "arguments": "{}", "call_id": f"c{n}"})
        items.append({"type": "function_call_output", "call_id": f"c{n}", "output": text})
    return {"input": items, "tools": tools if tools is not None else [NAMESPACE_TOOL]}


def test_an_mcp_tool_call_goes_to_the_servers_namespace_with_its_arguments() -> None:
    step = parse_step({"mcp_tool": {"server": "runner", "tool": "get_task", "arguments": {"a": 1}}})

    item = item_for(step, read_conversation(body()))

    assert item["type"] == "function_call"
    assert (item["namespace"], item["name"]) == ("mcp__runner", "get_task")
    assert json.loads(item["arguments"]) == {"a": 1}


def test_without_a_namespace_the_tool_is_named_after_its_server() -> None:
    step = parse_step({"mcp_tool": {"server": "runner", "tool": "get_task"}})

    item = item_for(step, read_conversation(body(tools=[])))

    assert item["name"] == "mcp__runner__get_task"
    assert "namespace" not in item


def test_arguments_from_output_take_the_regex_group_from_the_latest_output() -> None:
    step = parse_step(
        {
            "mcp_tool": {
                "server": "runner",
                "tool": "wait_task",
                "arguments": {"timeout_s": 5},
                "arguments_from_output": {"task_id": '"id":\\s*"([^"]+)"'},
            }
        }
    )
    conversation = read_conversation(body('{"id": "old"}', 'Output:\n{"id": "T2"}'))

    arguments = json.loads(item_for(step, conversation)["arguments"])

    assert arguments == {"timeout_s": 5, "task_id": "T2"}


def test_an_argument_whose_regex_finds_nothing_says_so_in_its_value() -> None:
    step = parse_step(
        {"mcp_tool": {"server": "s", "tool": "t", "arguments_from_output": {"x": "id=(\\w+)"}}}
    )

    arguments = json.loads(item_for(step, read_conversation(body("nothing")))["arguments"])

    assert arguments["x"].startswith("(no match for")


@pytest.mark.parametrize(
    ("pattern", "problem"), [("id=\\w+", "needs a group"), ("(unclosed", "invalid regex")]
)
def test_a_regex_without_a_group_or_invalid_is_refused_when_loaded(
    pattern: str, problem: str
) -> None:
    rule = {
        "match": "x",
        "responses": [
            [{"mcp_tool": {"server": "s", "tool": "t", "arguments_from_output": {"a": pattern}}}]
        ],
    }
    with pytest.raises(ValueError, match=problem):
        Script.from_dict({"rules": [rule]})


def test_the_step_parses_as_its_own_kind() -> None:
    assert isinstance(parse_step({"mcp_tool": {"server": "s", "tool": "t"}}), McpToolStep)
