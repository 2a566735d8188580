"""A model provider that fails: HTTP errors whose body echoes a key, or nobody listening."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from codex_runner.mockmodel import MockModelServer, Script

# Looks like an OpenAI key; the provider's error body echoes it, as real ones can.
ECHOED_KEY = "sk-acceptance0123456789abcdef"
UPSTREAM_MESSAGE = "upstream overloaded, try later"
BODY = json.dumps(
    {"error": {"message": f"{UPSTREAM_MESSAGE} (key {ECHOED_KEY})", "type": "server_error"}}
)
RULES: list[dict[str, Any]] = [
    {"match": "server error", "responses": [[{"http_error": 500, "body": BODY}]]},
    {"match": "bad gateway", "responses": [[{"http_error": 502, "body": BODY}]]},
]


@asynccontextmanager
async def failing_model() -> AsyncIterator[MockModelServer]:
    """A scripted model answering "server error" with a 500 and "bad gateway" with a 502."""
    async with MockModelServer(Script.from_dict({"rules": RULES}), port=0) as server:
        yield server


def closed_port() -> int:
    """A 127.0.0.1 port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def unreachable_provider(model: MockModelServer) -> dict[str, Any]:
    """``model``'s Codex settings with its provider moved to a closed port."""
    config = model.codex_config()
    for provider in config["model_providers"].values():
        provider["base_url"] = f"http://127.0.0.1:{closed_port()}/v1"
    return config
