"""Rules of the agent's helper endpoints: which file may be posted, how history reads."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codex_runner.bridges.slack.rules import replace_mentions, ts_key

MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_HISTORY = 200
DEFAULT_HISTORY = 50
_SAFE_NAME = re.compile(r"[^A-Za-z0-9._ -]")


class HelperRefused(Exception):
    """A helper call the session may not make; the message says why (HTTP 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        self.status = status
        super().__init__(message)


def clamp_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_HISTORY
    return max(1, min(MAX_HISTORY, limit))


def file_in_workspace(workspace: Path, file_path: str) -> Path:
    """The file ``file_path`` (relative to the workspace, or absolute) names, if it resolves
    inside the workspace after following every symlink; else :class:`HelperRefused`."""
    root = workspace.resolve(strict=True)
    candidate = Path(file_path)
    if not candidate.is_absolute():
        candidate = root / candidate
    # Containment first (symlinks followed), so nothing outside is even probed for existence.
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        raise HelperRefused(403, f"{file_path}: resolves outside the session's workspace")
    if not resolved.exists():
        raise HelperRefused(404, f"{file_path}: no such file in the workspace")
    if not resolved.is_file():
        raise HelperRefused(400, f"{file_path}: not a regular file")
    size = resolved.stat().st_size
    if size > MAX_FILE_BYTES:
        raise HelperRefused(413, f"{file_path}: {size} bytes; the limit is {MAX_FILE_BYTES}")
    return resolved


def decode_content(content_base64: str, filename: str) -> tuple[bytes, str]:
    """Decoded bytes (size-capped) and a safe file name."""
    if len(content_base64) > MAX_FILE_BYTES * 4 // 3 + 8:
        raise HelperRefused(413, f"content is larger than {MAX_FILE_BYTES} bytes")
    try:
        data = base64.b64decode(content_base64, validate=True)
    except (binascii.Error, ValueError):
        raise HelperRefused(400, "content_base64 is not valid base64") from None
    if len(data) > MAX_FILE_BYTES:
        raise HelperRefused(413, f"content is larger than {MAX_FILE_BYTES} bytes")
    return data, safe_filename(filename)


def safe_filename(name: str) -> str:
    base = _SAFE_NAME.sub("_", Path(name).name).strip(". ")
    return base[:120] or "file"


def history_entries(
    messages: Sequence[Mapping[str, Any]],
    *,
    before_ts: str | None,
    limit: int,
    names: Mapping[str, str],
) -> list[dict[str, Any]]:
    """Thread messages (before ``before_ts`` if given), the newest ``limit`` of them."""
    picked = [
        m for m in messages if before_ts is None or ts_key(str(m.get("ts"))) < ts_key(before_ts)
    ]
    out = []
    for m in picked[-limit:]:
        user = str(m.get("user") or m.get("bot_id") or "")
        out.append(
            {
                "ts": m.get("ts"),
                "user": user,
                "name": names.get(user, user),
                "bot": bool(m.get("bot_id")),
                "text": replace_mentions(str(m.get("text") or ""), names),
            }
        )
    return out


def history_text(entries: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(f"[{e['ts']}] {e['name']}: {e['text']}" for e in entries)
