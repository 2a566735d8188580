"""The app-server's opening handshake (``initialize`` then ``initialized``), in one place."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from codex_runner import __version__
from codex_runner.codex.jsonrpc import JsonRpcConnection

CLIENT_INFO = {"name": "codex_runner", "title": "codex-runner", "version": __version__}


@dataclass(frozen=True)
class ServerInfo:
    codex_version: str | None  # x.y.z from Codex's user agent
    user_agent: str
    codex_home: str | None


async def initialize(conn: JsonRpcConnection, *, timeout: float) -> ServerInfo:
    """Introduce ourselves; raises the connection's CodexError when Codex does not answer."""
    result: Any = await conn.request(
        "initialize",
        {"clientInfo": CLIENT_INFO, "capabilities": {"experimentalApi": True}},
        timeout=timeout,
    )
    await conn.notify("initialized")
    result = result if isinstance(result, dict) else {}
    user_agent = str(result.get("userAgent", ""))
    match = re.search(r"(\d+\.\d+\.\d+)", user_agent)
    home = result.get("codexHome")
    return ServerInfo(
        codex_version=match.group(1) if match else None,
        user_agent=user_agent,
        codex_home=home if isinstance(home, str) else None,
    )
