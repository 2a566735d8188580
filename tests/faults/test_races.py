"""Racing requests: one idempotency key submitted at once, one approval decided at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ..acceptance.daemon.harness import TERMINAL, wait_state
from .admin_session import admin_page_client
from .conftest import StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance

RACERS = 50


async def test_racing_submits_with_one_idempotency_key_create_exactly_one_task(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    body = {"prompt": "quick", "cwd": str(repo), "idempotency_key": "race-1"}
    async with daemon.client() as client:
        responses = await asyncio.gather(
            *(client.post("/v1/tasks", json=body) for _ in range(RACERS))
        )
        codes = sorted(response.status_code for response in responses)
        assert codes == [200] * (RACERS - 1) + [201], codes
        ids = {response.json()["id"] for response in responses}
        assert len(ids) == 1, ids
        listed = (await client.get("/v1/tasks")).json()["tasks"]
        assert [task["id"] for task in listed] == list(ids)
        (task_id,) = ids
        assert (await wait_state(client, task_id, TERMINAL))["state"] == "completed"
        events = (await assert_nothing_lost(client, [task_id]))[task_id]
        assert [event["type"] for event in events].count("task.created") == 1
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_racing_decisions_from_the_api_and_the_admin_page_answer_codex_once(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    token = (daemon.home / "api-token").read_text().strip()
    async with daemon.client() as api, admin_page_client(daemon.url, token) as page:
        task = (
            await api.post("/v1/tasks", json={"prompt": "touch approved", "repo": str(repo)})
        ).json()
        await wait_state(api, task["id"], {"awaiting_approval"})
        (approval,) = (await api.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
        route = f"/v1/approvals/{approval['id']}"
        racers = [
            (client, decision, by)
            for client, by in ((api, "api"), (page, "page"))
            for decision in ("accept", "decline")
            for _ in range(5)
        ]
        responses = await asyncio.gather(
            *(client.post(route, json={"decision": d, "by": by}) for client, d, by in racers)
        )
        codes = sorted(response.status_code for response in responses)
        assert codes == [200] + [409] * (len(racers) - 1), [r.text for r in responses]
        (winner,) = [
            racer
            for racer, response in zip(racers, responses, strict=True)
            if response.status_code == 200
        ]
        done = await wait_state(api, task["id"], TERMINAL)
        assert done["state"] == "completed", done
        approved = (daemon.home / "worktrees" / task["id"] / "approved.txt").exists()
        assert approved == (winner[1] == "accept"), (winner, approved)
        events = (await assert_nothing_lost(api, [task["id"]]))[task["id"]]
        decided = [event for event in events if event["type"] == "approval.decided"]
        assert len(decided) == 1, decided
        assert decided[0]["data"]["decision"] == winner[1], decided
    daemon.stop()
    assert_no_run_files(daemon.home)
