"""Reading Codex's request bodies: the current prompt, tool outputs and the call count."""

from __future__ import annotations

from typing import Any

from codex_runner.mockmodel import is_codex_context, read_conversation

ENVIRONMENT = "<environment_context>\n  <cwd>/tmp/repo</cwd>\n</environment_context>"
AGENTS = "# AGENTS.md instructions for /tmp/repo\n\n<INSTRUCTIONS>\nBe nice.\n</INSTRUCTIONS>"
ABORTED = "<turn_aborted>\nThe user interrupted the previous turn.\n</turn_aborted>"


def message(role: str, *texts: str) -> dict[str, Any]:
    kind = "output_text" if role == "assistant" else "input_text"
    return {"type": "message", "role": role, "content": [{"type": kind, "text": t} for t in texts]}


def call(call_id: str) -> dict[str, Any]:
    return {"type": "function_call", "name": "exec_command", "arguments": "{}", "call_id": call_id}


def output(call_id: str, text: str) -> dict[str, Any]:
    return {"type": "function_call_output", "call_id": call_id, "output": text}


def codex_prefix() -> list[dict[str, Any]]:
    """What Codex 0.163 sends before the first prompt: developer text, then context."""
    return [message("developer", "You are a coding agent..."), message("user", ENVIRONMENT)]


def test_the_prompt_is_the_last_user_message_not_codex_context() -> None:
    body = {"input": [*codex_prefix(), message("user", "create a file")]}

    conversation = read_conversation(body)

    assert conversation.last_user_text == "create a file"
    assert conversation.user_texts == ["create a file"]
    assert conversation.tool_outputs == []
    assert conversation.calls_done == 0


def test_tool_outputs_after_the_prompt_count_model_calls() -> None:
    body = {
        "input": [
            *codex_prefix(),
            message("user", "create a file"),
            call("a"),
            output("a", "out a"),
            call("b"),
            output("b", "out b"),
        ]
    }

    conversation = read_conversation(body)

    assert conversation.tool_outputs == ["out a", "out b"]
    assert conversation.calls_done == 2


def test_parallel_calls_of_one_response_count_as_one_model_call() -> None:
    # Codex sends a response's calls first, then all their outputs.
    body = {
        "input": [
            message("user", "two calls"),
            call("a"),
            call("b"),
            output("a", "A"),
            output("b", "B"),
        ]
    }

    assert read_conversation(body).calls_done == 1
    assert read_conversation(body).tool_outputs == ["A", "B"]


def test_outputs_of_earlier_turns_do_not_count() -> None:
    body = {
        "input": [
            message("user", "first"),
            call("a"),
            output("a", "A"),
            message("assistant", "done"),
            message("user", "second"),
        ]
    }

    conversation = read_conversation(body)

    assert conversation.last_user_text == "second"
    assert conversation.user_texts == ["first", "second"]
    assert conversation.calls_done == 0


def test_a_steer_is_a_new_user_message_after_the_outputs() -> None:
    body = {
        "input": [
            message("user", "slow task"),
            call("a"),
            output("a", "A"),
            message("user", "change of plan"),
        ]
    }

    conversation = read_conversation(body)

    assert conversation.last_user_text == "change of plan"
    assert conversation.calls_done == 0


def test_aborted_turn_notes_and_agents_md_are_skipped() -> None:
    body = {
        "input": [
            message("user", AGENTS, ENVIRONMENT),
            message("user", "hang please"),
            message("user", ABORTED),
            message("user", "hello after"),
        ]
    }

    assert read_conversation(body).user_texts == ["hang please", "hello after"]


def test_custom_tool_outputs_count_like_function_outputs() -> None:
    body = {
        "input": [
            message("user", "patch it"),
            {"type": "custom_tool_call", "name": "apply_patch", "input": "...", "call_id": "p"},
            {"type": "custom_tool_call_output", "call_id": "p", "output": "Success."},
        ]
    }

    assert read_conversation(body).tool_outputs == ["Success."]
    assert read_conversation(body).calls_done == 1


def test_structured_outputs_become_text() -> None:
    body = {
        "input": [
            message("user", "x"),
            {"type": "function_call_output", "call_id": "a", "output": [{"text": "a"}, {"x": 1}]},
        ]
    }

    assert read_conversation(body).tool_outputs == ["a"]


def test_a_plain_string_input_is_the_prompt() -> None:
    assert read_conversation({"input": "hello"}).last_user_text == "hello"


def test_no_user_message_at_all() -> None:
    conversation = read_conversation({"input": [message("developer", "x")]})

    assert conversation.last_user_text is None
    assert conversation.user_texts == []


def test_an_image_only_message_is_still_a_prompt() -> None:
    image = {"type": "message", "role": "user", "content": [{"type": "input_image"}]}

    assert read_conversation({"input": [image]}).user_texts == [""]


def test_apply_patch_form_comes_from_the_advertised_tools() -> None:
    custom = {"type": "custom", "name": "apply_patch", "format": {}}
    function = {"type": "function", "name": "apply_patch", "parameters": {}}
    shell = {"type": "function", "name": "exec_command", "parameters": {}}

    assert read_conversation({"tools": [shell, custom]}).apply_patch_form == "custom"
    assert read_conversation({"tools": [function]}).apply_patch_form == "function"
    assert read_conversation({"tools": [shell]}).apply_patch_form is None


def test_context_detection() -> None:
    assert is_codex_context(ENVIRONMENT)
    assert is_codex_context(ABORTED)
    assert is_codex_context(AGENTS)
    assert is_codex_context('<user_shell_command kind="x">\nls\n</user_shell_command>')
    assert not is_codex_context("create a file")
    assert not is_codex_context("<b>bold</b> then more text after it <i>x</i>")
    assert not is_codex_context("<a>unclosed")
