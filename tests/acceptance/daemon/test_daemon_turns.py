"""A task's turns on the real Codex: listed in order, with Codex's turn ids and answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import StartDaemon
from .harness import TERMINAL, wait_state

pytestmark = pytest.mark.acceptance


async def test_a_task_and_its_follow_up_are_two_turns_in_order_with_their_answers(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        response = await client.post("/v1/tasks", json={"prompt": "hello", "cwd": str(tmp_path)})
        task_id = response.json()["id"]
        assert (await wait_state(client, task_id, TERMINAL))["state"] == "completed"
        follow_up = await client.post(f"/v1/tasks/{task_id}/message", json={"prompt": "quick"})
        assert follow_up.status_code == 200, follow_up.text
        done = await wait_state(client, task_id, TERMINAL)
        assert done["state"] == "completed", done

        listing = (await client.get(f"/v1/tasks/{task_id}/turns")).json()
    turns = listing["turns"]
    assert [(t["number"], t["input_summary"], t["status"]) for t in turns] == [
        (1, "hello", "completed"),
        (2, "quick", "completed"),
    ]
    assert [t["final_message"] for t in turns] == ["Hi there", "quick done"]
    assert all(t["thread_id"] == done["thread_id"] for t in turns)
    ids = [t["id"] for t in turns]
    assert all(ids) and ids[0] != ids[1]
    assert listing["current_turn_id"] == done["current_turn_id"] == ids[1]
    assert all(t["usage"]["total_tokens"] > 0 and t["finished_at"] for t in turns)

    code, out, err = await daemon.cli("task", "turns", task_id)
    assert code == 0, err
    rows = [line.split("\t") for line in out.splitlines()[1:]]
    assert [(row[0], row[1], row[5], row[6]) for row in rows] == [
        ("1", "completed", "Hi there", ids[0]),
        ("2", "completed", "quick done", ids[1]),
    ]
