"""Scripted model server: an OpenAI Responses API look-alike that follows a script.

Point Codex at it for offline, deterministic runs (tests, CI, demos)::

    script = load_script("script.yaml")
    async with MockModelServer(script, port=0) as server:
        config = server.codex_config()   # goes into the Codex home's config.toml
        ...
        await server.wait_for_requests(2, timeout=10)
        assert server.requests[0].last_user_text == "hello"

The script format is documented in ``docs/mock-model.md``.
"""

from codex_runner.mockmodel.codex_settings import API_KEY_ENV, MODEL_NAME, codex_config_for
from codex_runner.mockmodel.conversation import (
    Conversation,
    OtherRequest,
    RecordedRequest,
    is_codex_context,
    read_conversation,
)
from codex_runner.mockmodel.script import (
    Rule,
    Script,
    ScriptError,
    Step,
    load_builtin_script,
    load_script,
    parse_script_text,
)
from codex_runner.mockmodel.server import MockModelServer, ServerState

__all__ = [
    "API_KEY_ENV",
    "MODEL_NAME",
    "Conversation",
    "MockModelServer",
    "OtherRequest",
    "RecordedRequest",
    "Rule",
    "Script",
    "ScriptError",
    "ServerState",
    "Step",
    "codex_config_for",
    "is_codex_context",
    "load_builtin_script",
    "load_script",
    "parse_script_text",
    "read_conversation",
]
