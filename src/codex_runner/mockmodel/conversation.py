"""Reading what Codex sent: the conversation in a ``/v1/responses`` request body, and the
records the server keeps of each call.

The last *real* user message counts (Codex's own user-role context messages are skipped),
and the tool outputs after it; runs of outputs count the model calls of the turn so far.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

_TOOL_OUTPUT_TYPES: Final = frozenset({"function_call_output", "custom_tool_call_output"})
# Codex sends its own context (environment, AGENTS.md, aborted-turn notes, shell commands the
# user ran, ...) as user-role messages wrapped in one XML-like element; they are not prompts.
_CONTEXT_ELEMENT = re.compile(r"\A\s*<([A-Za-z_][\w-]*)(\s[^>]*)?>.*</\1>\s*\Z", re.DOTALL)
_CONTEXT_PREFIXES: Final = ("# AGENTS.md instructions",)


@dataclass(frozen=True)
class Conversation:
    """What the server needs from one ``/v1/responses`` request body."""

    user_texts: list[str]
    """Every real user message in order (prompts and steer inputs), context skipped."""
    tool_outputs: list[str]
    """Outputs of tool calls after the last user message, in order."""
    calls_done: int
    """Model calls of this turn that already ended in tool calls (``k``)."""
    apply_patch_form: str | None
    """How the request advertises ``apply_patch``: "custom", "function" or None."""
    namespaces: frozenset[str] = frozenset()
    """Names of the tool namespaces the request advertises (Codex puts each MCP server's
    tools in one, ``mcp__SERVER``)."""

    @property
    def last_user_text(self) -> str | None:
        return self.user_texts[-1] if self.user_texts else None


def _text_parts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
    return []


def _text_of(content: object) -> str:
    """The text of a message's content or a tool output (a string or a list of parts)."""
    if content is None or isinstance(content, str | list):
        return "\n".join(_text_parts(content))
    return json.dumps(content)


def is_codex_context(text: str) -> bool:
    """Whether a user-role message is context Codex injected rather than a user's prompt."""
    return _CONTEXT_ELEMENT.match(text) is not None or text.lstrip().startswith(_CONTEXT_PREFIXES)


def _apply_patch_form(tools: object) -> str | None:
    if isinstance(tools, list):
        for tool in tools:
            if isinstance(tool, dict) and tool.get("name") == "apply_patch":
                return "custom" if tool.get("type") == "custom" else "function"
    return None


def _namespaces(tools: object) -> frozenset[str]:
    if not isinstance(tools, list):
        return frozenset()
    return frozenset(
        tool["name"]
        for tool in tools
        if isinstance(tool, dict) and tool.get("type") == "namespace" and tool.get("name")
    )


def read_conversation(body: Mapping[str, Any]) -> Conversation:
    """Extract the current turn's prompt and tool outputs from a request body."""
    items = body.get("input")
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    if not isinstance(items, list):
        items = []
    user_texts: list[str] = []
    last_user_index = -1
    for index, item in enumerate(items):
        if not isinstance(item, dict) or item.get("role") != "user":
            continue
        if item.get("type", "message") != "message":
            continue
        parts = _text_parts(item.get("content"))
        texts = [part for part in parts if part.strip()]
        # Codex may bundle several context parts (AGENTS.md + environment) in one message;
        # a message without text (an image alone) is still a prompt.
        if not texts or not all(is_codex_context(part) for part in texts):
            user_texts.append("\n".join(parts))
            last_user_index = index
    tool_outputs: list[str] = []
    calls_done = 0
    previous_was_output = False
    for item in items[last_user_index + 1 :]:
        is_output = isinstance(item, dict) and item.get("type") in _TOOL_OUTPUT_TYPES
        if is_output:
            tool_outputs.append(_text_of(item.get("output")))
            # One model call's tool calls come back as one run of outputs, so runs (not
            # single outputs) count model calls even when a response made several calls.
            if not previous_was_output:
                calls_done += 1
        previous_was_output = is_output
    return Conversation(
        user_texts=user_texts,
        tool_outputs=tool_outputs,
        calls_done=calls_done,
        apply_patch_form=_apply_patch_form(body.get("tools")),
        namespaces=_namespaces(body.get("tools")),
    )


@dataclass(frozen=True)
class RecordedRequest:
    """One model call as the server saw it (recorded before the answer is played)."""

    path: str
    body: dict[str, Any]
    last_user_text: str | None
    tool_outputs: list[str]
    rule: str | None
    """Name of the matched rule (``rules[INDEX]`` when unnamed), None when none matched."""
    response_index: int | None
    """Index into the rule's ``responses`` that was asked for (may be past the end)."""
    user_texts: list[str] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OtherRequest:
    """A request to any endpoint other than ``POST /v1/responses``."""

    method: str
    path: str
    status: int
