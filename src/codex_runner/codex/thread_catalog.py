"""The Codex threads a Codex home knows (``thread/list``), as the runner shows them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

MAX_THREADS = 200  # one page; Codex pages past it with a cursor nobody here needs


class Channel(Protocol):
    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any: ...


@dataclass(frozen=True)
class ThreadSummary:
    id: str
    cwd: str | None
    preview: str
    name: str | None
    created_at: datetime | None
    updated_at: datetime | None


def _when(value: object) -> datetime | None:
    return datetime.fromtimestamp(value, UTC) if isinstance(value, int | float) else None


async def list_threads(
    channel: Channel, *, cwd: Path | None = None, limit: int = MAX_THREADS
) -> list[ThreadSummary]:
    """Threads newest first; only those started in ``cwd`` when given."""
    params: dict[str, Any] = {"limit": max(1, min(limit, MAX_THREADS))}
    if cwd is not None:
        params["cwd"] = str(cwd)
    result = await channel.request("thread/list", params)
    threads = []
    for raw in (result or {}).get("data") or []:
        if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
            continue
        threads.append(
            ThreadSummary(
                id=raw["id"],
                cwd=str(raw["cwd"]) if raw.get("cwd") else None,
                preview=str(raw.get("preview") or ""),
                name=raw.get("name") if isinstance(raw.get("name"), str) else None,
                created_at=_when(raw.get("createdAt")),
                updated_at=_when(raw.get("updatedAt")),
            )
        )
    return threads
