"""200 tasks over 4 hosts on one PostgreSQL, each real ``serve`` with its own home: every
task is claimed and completed exactly once, as the ledger its Codex command appends to says
(the task's worktree path, one line per run)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer, Script

from ...support.postgres import PostgresServer
from .harness import TERMINAL, Daemon, write_config

pytestmark = pytest.mark.acceptance

TASKS = 200
HOSTS = 4


async def test_every_task_is_claimed_and_completed_exactly_once_over_four_hosts(
    postgres: PostgresServer, repo: Path, tmp_path: Path
) -> None:
    ledger = tmp_path / "ledger.txt"
    rules = [
        {
            "match": "ledger",
            "responses": [[{"shell": f"pwd >> {ledger}"}], [{"message": "written"}]],
        }
    ]
    url = postgres.new_database()
    async with MockModelServer(Script.from_dict({"rules": rules}), port=0) as model:
        hosts = []
        for n in range(HOSTS):
            home = tmp_path / f"host{n}"
            write_config(
                home,
                model,
                service={"max_concurrent_tasks": 4, "commit_on_complete": False},
                codex={"sandbox": "danger-full-access", "approval_policy": "never"},
            )
            config = home / "config.toml"
            config.write_text(config.read_text() + tomli_w.dumps({"store": {"url": url}}))
            hosts.append(Daemon(home))
        try:
            await asyncio.gather(*(h.start() for h in hosts))
            ids: list[str] = []
            for n in range(TASKS):
                async with hosts[n % HOSTS].client() as client:
                    body = {"prompt": f"ledger {n}", "repo": str(repo)}
                    created = await client.post("/v1/tasks", json=body)
                    assert created.status_code == 201, created.text
                    ids.append(created.json()["id"])
            tasks = await settled_all(hosts[0], ids)
            failed = [
                (t["id"], t["host_id"], t["reason"]) for t in tasks if t["state"] != "completed"
            ]
            assert not failed, failed[:5]
            ran_on = {t["host_id"] for t in tasks}
            assert len(ran_on) > 1, ran_on  # the work spread over the hosts
            lines = ledger.read_text().splitlines()
            assert len(lines) == TASKS and len(set(lines)) == TASKS  # once each, never twice
            async with hosts[0].client() as client:
                for task_id in ids[:: TASKS // 20]:  # a sample: one running transition each
                    page = await client.get(f"/v1/tasks/{task_id}/events")
                    runs = [
                        e
                        for e in page.json()["events"]
                        if e["type"] == "task.state_changed" and e["data"]["to"] == "running"
                    ]
                    assert len(runs) == 1, json.dumps(runs)
        finally:
            for host in hosts:
                host.stop()


async def settled_all(daemon: Daemon, ids: list[str]) -> list[dict[str, Any]]:
    """Every task once all are settled; polled (they run on four processes)."""
    async with daemon.client() as client:
        for _ in range(600):
            page = await client.get("/v1/tasks", params={"limit": 1000})
            tasks = [t for t in page.json()["tasks"] if t["id"] in set(ids)]
            if len(tasks) == len(ids) and all(t["state"] in TERMINAL for t in tasks):
                return tasks
            await asyncio.sleep(0.5)
    raise AssertionError("the tasks did not all settle in 5 minutes")
