"""The daemon's tasks with Codex calling the model over WebSockets, as with OpenAI itself.

The runner releases a task's thread when its turn ends; a follow-up message right after
resumes it while Codex may still be closing it (and its model connection). The follow-up
must still run on the same thread, with the earlier turn in its context.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from .conftest import StartDaemon
from .harness import TERMINAL, wait_state

pytestmark = [pytest.mark.acceptance, pytest.mark.model_websockets]


async def test_a_task_and_its_immediate_follow_up_run_over_websockets(
    start_daemon: StartDaemon, repo: Path, daemon_model: MockModelServer
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        body = {"prompt": "create a file please", "repo": str(repo)}
        task = (await client.post("/v1/tasks", json=body)).json()
        first = await wait_state(client, task["id"], TERMINAL)
        response = await client.post(
            f"/v1/tasks/{task['id']}/message", json={"prompt": "what did I say"}
        )
        assert response.status_code == 200, response.text
        second = await wait_state(client, task["id"], TERMINAL)

    assert first["state"] == "completed", first
    assert first["final_message"] == "Created f.txt"
    assert second["state"] == "completed", second
    assert second["thread_id"] == first["thread_id"]
    assert "create a file please" in second["final_message"]
    assert daemon_model.requests
    for request in daemon_model.requests:
        assert request.headers.get("Upgrade", "").lower() == "websocket"
