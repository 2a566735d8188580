"""Translate ``codex exec --json`` output (one JSON object per stdout line) into canonical
events. Pure: no I/O, no asyncio; the exec runtime feeds it lines and reads its verdict.

Shapes observed with codex-cli 0.163 (``codex exec --json`` and ``codex exec resume``)::

    {"type":"thread.started","thread_id":"01a1ff78-..."}
    {"type":"turn.started"}
    {"type":"item.started","item":{"id":"item_1","type":"command_execution",
        "command":"/bin/bash -c 'echo hi > f.txt'","aggregated_output":"","exit_code":null,
        "status":"in_progress"}}
    {"type":"item.completed","item":{"id":"item_1","type":"command_execution", ...
        "aggregated_output":"...","exit_code":0,"status":"completed"}}
    {"type":"item.completed","item":{"id":"item_2","type":"agent_message","text":"done"}}
    {"type":"item.completed","item":{"id":"item_1","type":"reasoning","text":"..."}}
    {"type":"item.completed","item":{"id":"item_1","type":"file_change",
        "changes":[{"path":"/abs/g.txt","kind":"add"}],"status":"completed"}}
    {"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata
        for `mock-model` not found. ..."}}                       (a non-fatal notice)
    {"type":"turn.completed","usage":{"input_tokens":9994,"cached_input_tokens":0,
        "cache_write_input_tokens":0,"output_tokens":45,"reasoning_output_tokens":0}}
    {"type":"error","message":"stream disconnected before completion: ..."}
    {"type":"turn.failed","error":{"message":"..."}}

Two facts shape the translation:

- Exec lines carry no turn id, so exec turns have ``turn_id`` None.
- ``turn.completed.usage`` is the thread's running total (it grows across ``exec resume``
  runs), not the turn's; :class:`ExecTranslator` subtracts the total seen after the previous
  turn when it is known.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from typing import Any

from codex_runner.codex.app_server_events import file_changes
from codex_runner.codex.errors import LOST_THREAD_MESSAGE
from codex_runner.codex.model_errors import http_status_in, model_error_message
from codex_runner.codex.safe_text import safe_text
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.events import (
    CodexEvent,
    ErrorInfo,
    EventKind,
    FailureClass,
    Item,
    ItemType,
    TokenUsage,
    TurnStatus,
)

ITEM_TYPES: dict[str, ItemType] = {
    "agent_message": ItemType.AGENT_MESSAGE,
    "reasoning": ItemType.REASONING,
    "command_execution": ItemType.COMMAND_EXECUTION,
    "file_change": ItemType.FILE_CHANGE,
    "mcp_tool_call": ItemType.MCP_TOOL_CALL,
    "web_search": ItemType.WEB_SEARCH,
    "todo_list": ItemType.PLAN,
}

LOST_THREAD = LOST_THREAD_MESSAGE

# Message fragments -> failure class. Exec reports errors as plain text only (no structured
# ``codexErrorInfo`` as in the app-server), so this is the best classification available.
_FAILURE_PATTERNS: tuple[tuple[re.Pattern[str], FailureClass], ...] = (
    (re.compile(r"stream disconnected|stream closed|connection (reset|closed)", re.I),
     FailureClass.MODEL_STREAM_DISCONNECTED),
    (re.compile(r"usage limit|rate limit|quota|too many requests|\b429\b", re.I),
     FailureClass.USAGE_LIMIT),
    (re.compile(r"unauthori[sz]ed|\b401\b|invalid api key|authentication", re.I),
     FailureClass.UNAUTHORIZED),
    (re.compile(r"context window|context length|maximum context", re.I),
     FailureClass.CONTEXT_WINDOW_EXCEEDED),
)  # fmt: skip


def parse_line(line: bytes | str) -> dict[str, Any] | None:
    """One stdout line as a JSON object with a string ``type``; None when it is not one."""
    try:
        value = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        return None
    return value


def lost_thread_reason(text: str | None) -> str | None:
    """The line of ``text`` saying the thread's rollout cannot be loaded, if there is one."""
    for line in (text or "").splitlines():
        if LOST_THREAD.search(line):
            return line.strip().removeprefix("Error: ").strip()
    return None


def failure_class_of(message: str) -> FailureClass:
    for pattern, failure_class in _FAILURE_PATTERNS:
        if pattern.search(message):
            return failure_class
    return FailureClass.MODEL_ERROR


def error_from_exec(raw: Any) -> ErrorInfo:
    """``{"message": ...}`` (or a bare string) as an :class:`ErrorInfo` that names the model
    provider's HTTP status when Codex's text gives it away, with its text safe to show."""
    message = raw.get("message") if isinstance(raw, dict) else raw
    text = str(message).strip() if message else ""
    text = text or "Codex reported an error without a message"
    status = http_status_in(text)
    return ErrorInfo(
        message=model_error_message(text, status),
        failure_class=failure_class_of(text),
        http_status=status,
    )


def usage_from_exec(raw: Any) -> TokenUsage:
    raw = raw if isinstance(raw, dict) else {}

    def count(key: str) -> int:
        value = raw.get(key)
        return value if isinstance(value, int) and value > 0 else 0

    input_tokens, output_tokens = count("input_tokens"), count("output_tokens")
    return TokenUsage(
        input_tokens=input_tokens,
        cached_input_tokens=count("cached_input_tokens"),
        output_tokens=output_tokens,
        reasoning_output_tokens=count("reasoning_output_tokens"),
        # 0.163 sends no total; Codex's own total is input + output (reasoning is output).
        total_tokens=count("total_tokens") or input_tokens + output_tokens,
    )


def usage_delta(total: TokenUsage, baseline: TokenUsage | None) -> TokenUsage:
    """``total - baseline`` field by field, never negative (a total that shrank means the
    baseline does not belong to this total, so the total itself is the best answer)."""
    if baseline is None:
        return total
    pairs = zip(asdict(total).values(), asdict(baseline).values(), strict=True)
    diffs = [t - b for t, b in pairs]
    if any(d < 0 for d in diffs):
        return total
    return TokenUsage(*diffs)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _todo_text(items: Any) -> str | None:
    lines = []
    for entry in items if isinstance(items, list) else ():
        if isinstance(entry, dict):
            mark = "x" if entry.get("completed") else " "
            lines.append(f"[{mark}] {entry.get('text', '')}")
    return "\n".join(lines) or None


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# What an unfinished item's partial state streams as, and where its text is.
_DELTA_KINDS: dict[str, DeltaKind] = {
    "agent_message": DeltaKind.AGENT_MESSAGE,
    "reasoning": DeltaKind.REASONING,
    "command_execution": DeltaKind.COMMAND_OUTPUT,
    "todo_list": DeltaKind.PLAN,
}


def _partial_text(raw: dict[str, Any]) -> str | None:
    raw_type = raw.get("type")
    if raw_type == "command_execution":
        return _text(raw.get("aggregated_output"))
    if raw_type == "todo_list":
        return _todo_text(raw.get("items"))
    return _text(raw.get("text"))


def item_from_exec(raw: dict[str, Any]) -> Item:
    raw_type = str(raw.get("type", ""))
    item_type = ITEM_TYPES.get(raw_type, ItemType.OTHER)
    text: str | None = None
    output: str | None = None
    if item_type in (ItemType.AGENT_MESSAGE, ItemType.REASONING):
        text = _text(raw.get("text"))
    elif item_type is ItemType.PLAN:
        text = _todo_text(raw.get("items"))
    elif item_type is ItemType.WEB_SEARCH:
        text = _text(raw.get("query"))
    elif item_type is ItemType.MCP_TOOL_CALL:
        text = f"{raw.get('server', '')}/{raw.get('tool', '')}"
        error = raw.get("error")
        output = _json_text(error.get("message") if isinstance(error, dict) else error)
        output = output or _json_text(raw.get("result"))
    elif item_type is ItemType.COMMAND_EXECUTION:
        output = _text(raw.get("aggregated_output"))
    else:
        text = _text(raw.get("text")) or _text(raw.get("message"))
    exit_code = raw.get("exit_code")
    return Item(
        id=str(raw.get("id", "")),
        type=item_type,
        text=text,
        command=_text(raw.get("command")),
        cwd=_text(raw.get("cwd")),
        exit_code=exit_code if isinstance(exit_code, int) else None,
        output=output,
        status=_text(raw.get("status")),
        changes=file_changes(raw.get("changes")),
        raw_type=raw_type if item_type is ItemType.OTHER else None,
    )


class ExecTranslator:
    """Turns the JSON lines of one ``codex exec`` process into canonical events and keeps
    the verdict: the thread id Codex announced, the terminal status, the error."""

    def __init__(self, thread_id: str, usage_baseline: TokenUsage | None = None) -> None:
        self.thread_id = thread_id
        self.started_thread_id: str | None = None  # from thread.started
        self.turn_started = False
        self.terminal: TurnStatus | None = None  # from turn.completed / turn.failed
        self.error: ErrorInfo | None = None  # the turn.failed error
        self.last_error: ErrorInfo | None = None  # the latest top-level error line
        self.usage_total: TokenUsage | None = None  # thread total from turn.completed
        self.unknown_types: set[str] = set()
        self._baseline = usage_baseline
        self._streamed: dict[str, str] = {}  # item id -> its text as the last delta left it

    def _event(self, kind: EventKind, **fields: Any) -> CodexEvent:
        return CodexEvent(kind, thread_id=self.thread_id, **fields)

    def feed(self, line: dict[str, Any]) -> list[CodexEvent]:
        """Events for one parsed line (see :func:`parse_line`); may be empty."""
        kind = line.get("type")
        if kind == "thread.started":
            thread_id = line.get("thread_id")
            if isinstance(thread_id, str) and thread_id:
                self.started_thread_id = self.thread_id = thread_id
            return []
        if kind == "turn.started":
            self.turn_started = True
            return [self._event(EventKind.TURN_STARTED)]
        if kind in ("item.started", "item.completed"):
            return self._item(kind, line.get("item"))
        if kind == "item.updated":
            # No canonical "item updated" event: progress counts as activity only, and the
            # item's final state arrives with item.completed.
            return []
        if kind == "turn.completed":
            self.terminal = TurnStatus.COMPLETED
            self.usage_total = usage_from_exec(line.get("usage"))
            usage = usage_delta(self.usage_total, self._baseline)
            return [
                self._event(
                    EventKind.TOKEN_USAGE,
                    usage=usage,
                    data={
                        "thread_total": asdict(self.usage_total),
                        "baseline_known": self._baseline is not None,
                    },
                )
            ]
        if kind == "turn.failed":
            self.terminal = TurnStatus.FAILED
            raw = line.get("error")
            self.error = error_from_exec(raw) if raw else self.last_error or error_from_exec(None)
            return []
        if kind == "error":
            self.last_error = error_from_exec(line)
            return [self._event(EventKind.ERROR, error=self.last_error)]
        self.unknown_types.add(str(kind))
        return []

    def deltas(self, line: dict[str, Any]) -> list[Delta]:
        """The live deltas one parsed line carries (see :func:`parse_line`); may be empty.

        Exec lines carry an unfinished item's whole state so far (``item.started``,
        ``item.updated``), not pieces: a message's or command output's growth becomes the
        text added since the last line, a todo list (or text that changed rather than grew)
        a snapshot that replaces it. ``item.completed`` carries none: the completed item is
        the durable record.
        """
        raw = line.get("item")
        if not isinstance(raw, dict):
            return []
        item_id = str(raw.get("id", ""))
        if line.get("type") == "item.completed":
            self._streamed.pop(item_id, None)
            return []
        kind = _DELTA_KINDS.get(str(raw.get("type")))
        text = _partial_text(raw)
        if line.get("type") not in ("item.started", "item.updated") or kind is None or not text:
            return []
        before = self._streamed.get(item_id, "")
        self._streamed[item_id] = text
        if kind is DeltaKind.PLAN or not text.startswith(before):
            return [] if text == before else [Delta(item_id, kind, text, replaces=True)]
        added = text[len(before) :]
        return [Delta(item_id, kind, added)] if added else []

    def _item(self, kind: str, raw: Any) -> list[CodexEvent]:
        if not isinstance(raw, dict):
            return []
        if raw.get("type") == "error":
            # An error *item* is a non-fatal notice (e.g. unknown model metadata); the turn
            # goes on, so it is a warning rather than an error.
            if kind != "item.completed":
                return []
            message = safe_text(_text(raw.get("message")) or "Codex reported a non-fatal error")
            return [
                self._event(EventKind.WARNING, message=message, data={"item_id": raw.get("id")})
            ]
        event_kind = EventKind.ITEM_STARTED if kind == "item.started" else EventKind.ITEM_COMPLETED
        return [self._event(event_kind, item=item_from_exec(raw))]
