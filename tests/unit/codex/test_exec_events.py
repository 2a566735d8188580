"""Translating ``codex exec --json`` lines, with lines recorded from codex-cli 0.163."""

from __future__ import annotations

from typing import Any

import pytest

from codex_runner.codex.exec_events import (
    ExecTranslator,
    error_from_exec,
    failure_class_of,
    item_from_exec,
    lost_thread_reason,
    parse_line,
    usage_delta,
    usage_from_exec,
)
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.events import (
    CodexEvent,
    EventKind,
    FailureClass,
    FileChange,
    ItemType,
    TokenUsage,
    TurnStatus,
)

THREAD = "01a1ff78-7c7e-7fa2-9a97-f77b589a6092"

# A tool turn exactly as codex exec printed it (the error item is Codex's notice about the
# unknown mock model).
TOOL_TURN = [
    '{"type":"thread.started","thread_id":"01a1ff78-7c7e-7fa2-9a97-f77b589a6092"}',
    '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata '
    "for `mock-model` not found. Defaulting to fallback metadata; this can degrade performance "
    'and cause issues."}}',
    '{"type":"turn.started"}',
    '{"type":"item.started","item":{"id":"item_1","type":"command_execution","command":'
    '"/bin/bash -c \'echo hi > f.txt\'","aggregated_output":"","exit_code":null,'
    '"status":"in_progress"}}',
    '{"type":"item.completed","item":{"id":"item_1","type":"command_execution","command":'
    '"/bin/bash -c \'echo hi > f.txt\'","aggregated_output":"ok\\n","exit_code":0,'
    '"status":"completed"}}',
    '{"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"done"}}',
    '{"type":"turn.completed","usage":{"input_tokens":30272,"cached_input_tokens":100,'
    '"cache_write_input_tokens":0,"output_tokens":150,"reasoning_output_tokens":7}}',
]

FAILED_TURN = [
    '{"type":"thread.started","thread_id":"01a1ff78-8cc1-7962-acb7-67bf195b1fb2"}',
    '{"type":"turn.started"}',
    '{"type":"error","message":"We\\u2019re currently experiencing high demand, which may '
    'cause temporary errors."}',
    '{"type":"turn.failed","error":{"message":"We\\u2019re currently experiencing high '
    'demand, which may cause temporary errors."}}',
]


def _feed(translator: ExecTranslator, lines: list[str]) -> list[CodexEvent]:
    events: list[CodexEvent] = []
    for line in lines:
        parsed = parse_line(line)
        assert parsed is not None, line
        events.extend(translator.feed(parsed))
    return events


def test_a_tool_turn_becomes_canonical_events() -> None:
    translator = ExecTranslator("exec-provisional")
    events = _feed(translator, TOOL_TURN)
    assert translator.started_thread_id == THREAD
    assert [e.kind for e in events] == [
        EventKind.WARNING,
        EventKind.TURN_STARTED,
        EventKind.ITEM_STARTED,
        EventKind.ITEM_COMPLETED,
        EventKind.ITEM_COMPLETED,
        EventKind.TOKEN_USAGE,
    ]
    assert all(e.thread_id == THREAD for e in events)
    assert events[0].message is not None and "Model metadata" in events[0].message
    command = events[3].item
    assert command is not None and command.type is ItemType.COMMAND_EXECUTION
    assert command.command == "/bin/bash -c 'echo hi > f.txt'"
    assert (command.exit_code, command.output, command.status) == (0, "ok\n", "completed")
    started = events[2].item
    assert started is not None and started.exit_code is None and started.status == "in_progress"
    message = events[4].item
    assert message is not None and (message.type, message.text) == (ItemType.AGENT_MESSAGE, "done")
    assert translator.terminal is TurnStatus.COMPLETED
    assert events[5].usage == TokenUsage(30272, 100, 150, 7, 30422)


def test_turn_usage_is_the_growth_of_the_thread_total() -> None:
    baseline = TokenUsage(9994, 0, 45, 0, 10039)
    translator = ExecTranslator(THREAD, usage_baseline=baseline)
    events = _feed(translator, TOOL_TURN)
    usage = events[-1]
    assert usage.usage == TokenUsage(20278, 100, 105, 7, 20383)
    assert usage.data["baseline_known"] is True
    assert usage.data["thread_total"]["input_tokens"] == 30272
    assert translator.usage_total == TokenUsage(30272, 100, 150, 7, 30422)


def test_usage_delta_never_goes_negative() -> None:
    total = TokenUsage(10, 0, 5, 0, 15)
    assert usage_delta(total, None) == total
    assert usage_delta(total, TokenUsage(20, 0, 1, 0, 21)) == total
    assert usage_delta(total, TokenUsage(4, 0, 1, 0, 5)) == TokenUsage(6, 0, 4, 0, 10)


def test_usage_uses_a_given_total_and_ignores_junk() -> None:
    assert usage_from_exec({"input_tokens": 3, "output_tokens": 2, "total_tokens": 9}) == (
        TokenUsage(3, 0, 2, 0, 9)
    )
    assert usage_from_exec({"input_tokens": "x", "output_tokens": -1}) == TokenUsage()
    assert usage_from_exec(None) == TokenUsage()


def test_a_failed_turn_keeps_codexs_message_and_names_the_http_500_behind_it() -> None:
    translator = ExecTranslator(THREAD)
    events = _feed(translator, FAILED_TURN)
    assert [e.kind for e in events] == [EventKind.TURN_STARTED, EventKind.ERROR]
    assert translator.terminal is TurnStatus.FAILED
    assert translator.error is not None
    assert "We\u2019re currently experiencing high demand" in translator.error.message
    assert "HTTP 500 Internal Server Error" in translator.error.message
    assert translator.error.http_status == 500
    assert translator.error.failure_class is FailureClass.MODEL_ERROR


def test_turn_failed_without_error_falls_back_to_the_last_error_line() -> None:
    translator = ExecTranslator(THREAD)
    _feed(
        translator,
        [
            '{"type":"error","message":"stream disconnected before completion: Transport '
            'error: network error: error decoding response body"}',
            '{"type":"turn.failed"}',
        ],
    )
    assert translator.error is not None
    assert translator.error.failure_class is FailureClass.MODEL_STREAM_DISCONNECTED


@pytest.mark.parametrize(
    ("message", "failure_class"),
    [
        (
            "stream disconnected before completion: idle timeout",
            FailureClass.MODEL_STREAM_DISCONNECTED,
        ),
        ("You've hit your usage limit.", FailureClass.USAGE_LIMIT),
        ("unexpected status 429 Too Many Requests", FailureClass.USAGE_LIMIT),
        ("unexpected status 401 Unauthorized: invalid api key", FailureClass.UNAUTHORIZED),
        (
            "Your input exceeds the context window of this model",
            FailureClass.CONTEXT_WINDOW_EXCEEDED,
        ),
        ("We're currently experiencing high demand", FailureClass.MODEL_ERROR),
    ],
)
def test_error_messages_are_classified(message: str, failure_class: FailureClass) -> None:
    assert failure_class_of(message) is failure_class
    assert error_from_exec({"message": message}).failure_class is failure_class


def test_an_error_without_a_message_still_says_something() -> None:
    assert error_from_exec({}).message
    assert error_from_exec(None).failure_class is FailureClass.MODEL_ERROR


def test_file_changes_reasoning_and_other_items() -> None:
    change = item_from_exec(
        {
            "id": "item_1",
            "type": "file_change",
            "changes": [
                {"path": "/repo/g.txt", "kind": "add"},
                {"path": "/repo/h", "kind": "update"},
            ],
            "status": "completed",
        }
    )
    assert change.type is ItemType.FILE_CHANGE and change.status == "completed"
    assert change.changes == (FileChange("/repo/g.txt", "add"), FileChange("/repo/h", "update"))
    reasoning = item_from_exec({"id": "item_1", "type": "reasoning", "text": "pondering"})
    assert (reasoning.type, reasoning.text) == (ItemType.REASONING, "pondering")
    todo = item_from_exec(
        {
            "id": "t",
            "type": "todo_list",
            "items": [{"text": "read", "completed": True}, {"text": "fix", "completed": False}],
        }
    )
    assert (todo.type, todo.text) == (ItemType.PLAN, "[x] read\n[ ] fix")
    mcp = item_from_exec(
        {
            "id": "m",
            "type": "mcp_tool_call",
            "server": "docs",
            "tool": "search",
            "status": "failed",
            "error": {"message": "boom"},
        }
    )
    assert (mcp.type, mcp.text, mcp.output) == (ItemType.MCP_TOOL_CALL, "docs/search", "boom")
    search = item_from_exec({"id": "w", "type": "web_search", "query": "asyncio"})
    assert (search.type, search.text) == (ItemType.WEB_SEARCH, "asyncio")
    other = item_from_exec({"id": "c", "type": "collab_tool_call", "text": "x"})
    assert (other.type, other.raw_type) == (ItemType.OTHER, "collab_tool_call")


def test_item_updated_and_unknown_lines_make_no_events() -> None:
    translator = ExecTranslator(THREAD)
    updated = {"type": "item.updated", "item": {"id": "t", "type": "todo_list", "items": []}}
    assert translator.feed(updated) == []
    assert translator.feed({"type": "something.new"}) == []
    assert translator.unknown_types == {"something.new"}
    assert translator.feed({"type": "item.completed", "item": "not an object"}) == []
    assert translator.terminal is None


@pytest.mark.parametrize(
    "line",
    ["", "not json", "[1, 2]", '{"no_type": 1}', '{"type": 3}', b"\xff\xfe", '{"type": "x"'],
)
def test_malformed_lines_are_rejected(line: Any) -> None:
    assert parse_line(line) is None


def test_parse_line_accepts_bytes() -> None:
    assert parse_line(b'{"type":"turn.started"}\n') == {"type": "turn.started"}


def test_lost_thread_is_recognised_in_stderr() -> None:
    stderr = (
        "WARNING: proceeding, even though we could not create PATH aliases\n"
        "Error: thread/resume: thread/resume failed: no rollout found for thread id "
        "01a1ff78-7c7e-7fa2-9a97-f77b589a6000 (code -32600)"
    )
    reason = lost_thread_reason(stderr)
    assert reason is not None and reason.startswith("thread/resume: thread/resume failed: no")
    assert lost_thread_reason("Error: some other failure") is None
    assert lost_thread_reason(None) is None


def _line(kind: str, **item: Any) -> dict[str, Any]:
    return {"type": kind, "item": item}


def test_a_growing_command_output_and_message_stream_as_the_text_each_line_adds() -> None:
    translator = ExecTranslator(THREAD)
    command = {"id": "item_1", "type": "command_execution", "command": "make"}
    message = {"id": "item_2", "type": "agent_message"}
    lines = [
        _line("item.started", **command, aggregated_output="", status="in_progress"),
        _line("item.updated", **command, aggregated_output="one\n", status="in_progress"),
        _line("item.updated", **command, aggregated_output="one\ntwo\n", status="in_progress"),
        _line("item.started", **message, text="The ans"),
        _line("item.updated", **message, text="The answer"),
        _line("item.updated", **message, text="The answer"),  # nothing new: no delta
    ]

    deltas = [d for line in lines for d in translator.deltas(line)]

    assert deltas == [
        Delta("item_1", DeltaKind.COMMAND_OUTPUT, "one\n"),
        Delta("item_1", DeltaKind.COMMAND_OUTPUT, "two\n"),
        Delta("item_2", DeltaKind.AGENT_MESSAGE, "The ans"),
        Delta("item_2", DeltaKind.AGENT_MESSAGE, "wer"),
    ]


def test_a_todo_list_streams_as_snapshots_and_rewritten_text_replaces_what_was_sent() -> None:
    translator = ExecTranslator(THREAD)
    todo = {"id": "item_3", "type": "todo_list"}
    first = [{"text": "read", "completed": False}, {"text": "fix", "completed": False}]
    second = [{"text": "read", "completed": True}, {"text": "fix", "completed": False}]

    assert translator.deltas(_line("item.started", **todo, items=first)) == [
        Delta("item_3", DeltaKind.PLAN, "[ ] read\n[ ] fix", replaces=True)
    ]
    assert translator.deltas(_line("item.updated", **todo, items=second)) == [
        Delta("item_3", DeltaKind.PLAN, "[x] read\n[ ] fix", replaces=True)
    ]
    message = {"id": "item_4", "type": "reasoning"}
    translator.deltas(_line("item.updated", **message, text="Thinking about it"))
    assert translator.deltas(_line("item.updated", **message, text="Rethought")) == [
        Delta("item_4", DeltaKind.REASONING, "Rethought", replaces=True)
    ]


def test_completed_items_and_other_lines_carry_no_delta() -> None:
    translator = ExecTranslator(THREAD)
    message = {"id": "item_1", "type": "agent_message"}
    translator.deltas(_line("item.updated", **message, text="partial"))

    assert translator.deltas(_line("item.completed", **message, text="partial and whole")) == []
    # Its id is forgotten with it: a later item reusing it (a resumed process numbers its
    # items from item_0 again) streams from its own start.
    assert translator.deltas(_line("item.started", **message, text="new")) == [
        Delta("item_1", DeltaKind.AGENT_MESSAGE, "new")
    ]
    assert translator.deltas(_line("item.updated", id="x", type="file_change", changes=[])) == []
    assert translator.deltas({"type": "turn.started"}) == []
    assert translator.deltas({"type": "item.updated", "item": "not an object"}) == []
