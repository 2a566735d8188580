"""Live deltas from the real Codex binary: a scripted answer streamed in pieces reaches the
task's SSE stream (``?deltas=true``) as it is written, before the item completes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from .conftest import STREAMED_ANSWER, StartDaemon

pytestmark = [pytest.mark.acceptance]


async def _stream_with_deltas(
    client: httpx.AsyncClient, task_id: str
) -> list[tuple[str | None, str | None, dict[str, Any]]]:
    """(id, event, data) of every message until the task settles."""
    got: list[tuple[str | None, str | None, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    params = {"deltas": "true", "until_terminal": "true"}
    async with client.stream(
        "GET", f"/v1/tasks/{task_id}/events/stream", params=params, timeout=90
    ) as response:
        assert response.status_code == 200, await response.aread()
        async for line in response.aiter_lines():
            if line == "" and fields:
                got.append((fields.get("id"), fields.get("event"), json.loads(fields["data"])))
                fields = {}
            elif line and not line.startswith(":"):
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
    return got


@pytest.mark.parametrize(
    "transport", ["sse", pytest.param("websocket", marks=pytest.mark.model_websockets)]
)
async def test_an_answer_streams_as_deltas_before_its_item_completes(
    start_daemon: StartDaemon, repo: Path, transport: str
) -> None:
    """Over either model transport (``transport`` picks the mock model's, see conftest)."""
    daemon = await start_daemon()
    async with daemon.client() as client:
        body = {"prompt": "answer in pieces please", "repo": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        messages = await _stream_with_deltas(client, task["id"])

    deltas = [data for _, event, data in messages if event == "codex.delta"]
    assert deltas, "no delta reached the stream"
    assert all(msg_id is None for msg_id, event, _ in messages if event == "codex.delta")
    assert {d["kind"] for d in deltas} == {"agent_message"}
    (item_id,) = {d["item_id"] for d in deltas}
    # Coalesced: never more deltas than Codex sent pieces, and none empty.
    assert len(deltas) <= 6 and all(d["text"] for d in deltas)
    assert "".join(d["text"] for d in deltas) == STREAMED_ANSWER
    completed_at = next(
        n
        for n, (_, event, data) in enumerate(messages)
        if event == "codex.item.completed" and data["data"]["item"]["id"] == item_id
    )
    last_delta_at = max(n for n, (_, event, _) in enumerate(messages) if event == "codex.delta")
    assert last_delta_at < completed_at
    assert messages[completed_at][2]["data"]["item"]["text"] == STREAMED_ANSWER
    assert not [m for m in messages if m[1] == "codex.deltas_dropped"]
    # The durable record is whole without the deltas: none of them was stored.
    async with daemon.client() as client:
        stored = (await client.get(f"/v1/tasks/{task['id']}/events")).json()["events"]
    assert [str(e["seq"]) for e in stored] == [m[0] for m in messages if m[0] is not None]
