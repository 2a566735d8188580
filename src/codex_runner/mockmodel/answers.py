"""What the server answers a model call: the scripted steps it picks, and the output
items (assistant messages, reasoning, shell and apply_patch calls) those steps produce.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from codex_runner.mockmodel.conversation import Conversation
from codex_runner.mockmodel.script import (
    ApplyPatchStep,
    EchoStep,
    McpCall,
    McpToolStep,
    MessageStep,
    ReasoningStep,
    Script,
    ShellStep,
    Step,
    WriteFileStep,
    rule_label,
)
from codex_runner.mockmodel.stream import new_id


@dataclass(frozen=True)
class Plan:
    """The steps to play for one model call, and which rule and response chose them."""

    steps: Sequence[Step]
    rule: str | None
    response_index: int | None


def plan_answer(script: Script, conversation: Conversation) -> Plan:
    """The first matching rule's ``responses[k]``, ``k`` being the model calls done so far."""
    text = conversation.last_user_text
    first = conversation.user_texts[0] if conversation.user_texts else None
    selected = script.select(text if text is not None else "", first)
    if selected is None:
        shown = text if text is not None else "(no user message)"
        return Plan([MessageStep(message=f"mock: {shown}")], None, None)
    index, rule = selected
    k = conversation.calls_done
    if k < len(rule.responses):
        return Plan(rule.responses[k], rule_label(index, rule), k)
    # The turn went on longer than scripted: end it with the script's last words.
    final = [s.message for s in rule.responses[-1] if isinstance(s, MessageStep)]
    return Plan([MessageStep(message=final[-1] if final else "done")], rule_label(index, rule), k)


_HEREDOC_END: Final = "MOCK_MODEL_EOF"


def write_file_command(path: str, content: str) -> str:
    """A shell command writing exactly ``content`` to ``path`` (any quotes, ``$``, newlines).

    Text ending in a newline goes through a quoted heredoc, which reads well in approval
    prompts; anything else through ``printf '%s'`` with shell quoting.
    """
    target = shlex.quote(path)
    lines = content.split("\n")
    if content.endswith("\n") and _HEREDOC_END not in lines:
        command = f"cat > {target} <<'{_HEREDOC_END}'\n{content}{_HEREDOC_END}"
    else:
        command = f"printf '%s' {shlex.quote(content)} > {target}"
    parent = posixpath.dirname(path)
    if parent:
        command = f"mkdir -p {shlex.quote(parent)} && {command}"
    return command


def _echo_text(conversation: Conversation) -> str:
    last = conversation.last_user_text or ""
    return f"echo: {last}\nearlier: {json.dumps(conversation.user_texts[:-1])}"


def _message_item(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": new_id("msg"),
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def _function_call_item(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": new_id("fc"),
        "call_id": new_id("call"),
        "name": name,
        "arguments": json.dumps(arguments),
        "status": "completed",
    }


def _exec_command_item(arguments: dict[str, Any]) -> dict[str, Any]:
    return _function_call_item("exec_command", arguments)


def _shell_arguments(step: ShellStep) -> dict[str, Any]:
    arguments: dict[str, Any] = {"cmd": step.shell, "login": False}
    if step.workdir is not None:
        arguments["workdir"] = step.workdir
    if step.timeout_ms is not None:
        arguments["yield_time_ms"] = step.timeout_ms
    if step.justification is not None:
        arguments["sandbox_permissions"] = "require_escalated"
        arguments["justification"] = step.justification
    return arguments


def _apply_patch_item(patch: str, form: str | None) -> dict[str, Any]:
    if not patch.lstrip().startswith("*** Begin Patch"):
        patch = f"*** Begin Patch\n{patch.rstrip(chr(10))}\n*** End Patch\n"
    if form == "function":
        return _function_call_item("apply_patch", {"input": patch})
    if form == "custom":
        return {
            "type": "custom_tool_call",
            "id": new_id("ctc"),
            "call_id": new_id("call"),
            "name": "apply_patch",
            "input": patch,
            "status": "completed",
        }
    # No apply_patch tool advertised (Codex 0.163 offers none for unknown model names such as
    # "mock-model"): Codex still recognises an apply_patch invocation run through the shell.
    heredoc = f"apply_patch <<'MOCK_MODEL_PATCH'\n{patch.rstrip(chr(10))}\nMOCK_MODEL_PATCH"
    return _exec_command_item({"cmd": heredoc, "login": False})


def _mcp_tool_item(call: McpCall, conversation: Conversation) -> dict[str, Any]:
    arguments = dict(call.arguments)
    latest = conversation.tool_outputs[-1] if conversation.tool_outputs else ""
    for name, pattern in call.arguments_from_output.items():
        found = re.search(pattern, latest)
        # No match: the call still goes out, so the tool's own error says what was wrong.
        arguments[name] = found.group(1) if found else f"(no match for {pattern!r})"
    namespace = f"mcp__{call.server}"
    item = _function_call_item(call.tool, arguments)
    if namespace in conversation.namespaces:
        item["namespace"] = namespace
    else:  # Codex before tool namespaces named an MCP tool mcp__SERVER__TOOL
        item["name"] = f"{namespace}__{call.tool}"
    return item


def item_for(step: Step, conversation: Conversation) -> dict[str, Any]:
    """The output item a content step produces (not for delay/cut/hang/http_error)."""
    if isinstance(step, MessageStep):
        return _message_item(step.message)
    if isinstance(step, EchoStep):
        return _message_item(_echo_text(conversation))
    if isinstance(step, ReasoningStep):
        return {
            "type": "reasoning",
            "id": new_id("rs"),
            "summary": [{"type": "summary_text", "text": step.reasoning}],
        }
    if isinstance(step, ShellStep):
        return _exec_command_item(_shell_arguments(step))
    if isinstance(step, WriteFileStep):
        command = write_file_command(step.write_file.path, step.write_file.content)
        return _exec_command_item({"cmd": command, "login": False})
    if isinstance(step, ApplyPatchStep):
        return _apply_patch_item(step.apply_patch, conversation.apply_patch_form)
    if isinstance(step, McpToolStep):
        return _mcp_tool_item(step.mcp_tool, conversation)
    raise TypeError(f"step {step!r} produces no output item")
