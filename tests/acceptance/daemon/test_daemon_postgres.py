"""The daemon on PostgreSQL ([store] url): tasks run and survive a restart, with the real
Codex against the scripted model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer

from ...support.postgres import PostgresServer, running_postgres
from .harness import TERMINAL, Daemon, wait_state, write_config

pytestmark = pytest.mark.acceptance


async def test_tasks_run_on_postgresql_and_outlive_a_restart(
    daemon_model: MockModelServer, postgres: PostgresServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    write_config(
        home,
        daemon_model,
        service={"max_concurrent_tasks": 2},
        codex={"sandbox": "workspace-write", "approval_policy": "never"},
    )
    config = home / "config.toml"
    url = postgres.new_database(migrated=False)  # the daemon migrates it itself
    config.write_text(config.read_text() + tomli_w.dumps({"store": {"url": url}}))
    daemon = Daemon(home)
    await daemon.start()
    try:
        async with daemon.client() as client:
            created = await client.post(
                "/v1/tasks",
                json={
                    "prompt": "quick",
                    "cwd": str(tmp_path),
                    "purpose": "pg",
                    "metadata": {"k": "v"},
                },
            )
            assert created.status_code == 201, created.text
            done = await wait_state(client, created.json()["id"], TERMINAL)
            assert done["state"] == "completed" and done["final_message"] == "quick done"
        daemon.stop()
        assert not (home / "runner.sqlite").exists()  # nothing went to SQLite
        await daemon.start()
        async with daemon.client() as client:
            listed = (await client.get("/v1/tasks", params={"metadata.k": "v"})).json()["tasks"]
            assert [t["id"] for t in listed] == [done["id"]]
            events = (await client.get(f"/v1/tasks/{done['id']}/events")).json()["events"]
            assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
            again = await client.post(f"/v1/tasks/{done['id']}/message", json={"prompt": "hello"})
            assert again.status_code == 200, again.text
            assert (await wait_state(client, done["id"], TERMINAL))["state"] == "completed"
    finally:
        daemon.stop()


async def test_a_database_restart_under_work_loses_nothing_and_writes_nothing_twice(
    daemon_model: MockModelServer, tmp_path: Path
) -> None:
    with running_postgres() as server:  # its own server: restarting it touches no other test
        home = tmp_path / "home"
        write_config(
            home,
            daemon_model,
            service={"max_concurrent_tasks": 2, "auto_resume": True},
            codex={"sandbox": "workspace-write", "approval_policy": "never"},
        )
        config = home / "config.toml"
        extra = tomli_w.dumps({"store": {"url": server.new_database()}})
        config.write_text(config.read_text() + extra)
        daemon = Daemon(home)
        await daemon.start()
        try:
            async with daemon.client() as client:
                body = {"prompt": "long job", "cwd": str(tmp_path)}  # a 3 s command
                running = (await client.post("/v1/tasks", json=body)).json()
                await wait_state(client, running["id"], {"running"})
                await asyncio.to_thread(server.restart)  # every connection is cut
                after = await client.post(
                    "/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path)}
                )
                assert after.status_code == 201, after.text
                for task_id in (running["id"], after.json()["id"]):
                    done = await wait_state(client, task_id, TERMINAL)
                    assert done["state"] == "completed", done
                    events = (await client.get(f"/v1/tasks/{task_id}/events")).json()["events"]
                    seqs = [e["seq"] for e in events]
                    assert seqs == list(range(1, len(seqs) + 1))  # gapless, none twice
                    turns = [e for e in events if e["type"] == "codex.turn.completed"]
                    assert len(turns) == 1
        finally:
            daemon.stop()
