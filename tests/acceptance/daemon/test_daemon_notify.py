"""Webhooks from a real daemon: a receiver that checks signatures fails on purpose while
tasks finish, the daemon is killed, and after its restart every notification arrives,
in order per task."""

from __future__ import annotations

import asyncio
import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from codex_runner.mockmodel import MockModelServer

from ...support.webhook_receiver import WebhookReceiver, webhook_receiver
from .harness import Daemon, wait_event, wait_state, write_config

pytestmark = pytest.mark.acceptance

SECRET = "acceptance-secret-0123456789"


async def pending_attempts(daemon: Daemon, wanted: int) -> list[dict[str, Any]]:
    """The pending deliveries once ``wanted`` of them were tried (and failed) at least once."""
    async with daemon.client() as client:
        for _ in range(200):
            found = (await client.get("/v1/notify/deliveries?status=pending")).json()
            tried = [d for d in found["deliveries"] if d["attempts"]]
            if len(tried) >= wanted:
                return tried
            await asyncio.sleep(0.1)
    raise AssertionError(f"no failed attempts recorded: {found}")


async def test_notifications_survive_a_failing_receiver_and_a_killed_daemon(
    tmp_path: Path, repo: Path, daemon_model: MockModelServer
) -> None:
    with webhook_receiver(SECRET) as receiver:
        receiver.always_fail = True
        home = tmp_path / "home"
        write_config(home, daemon_model, service={}, codex={"approval_policy": "never"})
        config = tomllib.loads((home / "config.toml").read_text())
        config["notify"] = {
            "webhooks": [
                {"url": receiver.url, "secret": SECRET, "name": "ops", "events": ["task.failed"]}
            ],
            "backoff_base_s": 0.2,
            "backoff_cap_s": 1.0,
            "poll_s": 0.2,
        }
        (home / "config.toml").write_text(tomli_w.dumps(config))
        daemon = Daemon(home)
        try:
            await daemon.start()
            await run_tasks(daemon, repo, receiver)
        finally:
            daemon.stop()


async def run_tasks(daemon: Daemon, repo: Path, receiver: WebhookReceiver) -> None:
    async with daemon.client() as client:
        body = {"prompt": "slow", "repo": str(repo), "notify": ["ops"]}
        first = (await client.post("/v1/tasks", json=body)).json()
        await wait_event(client, first["id"], "codex.turn.started")
        await client.post(f"/v1/tasks/{first['id']}/interrupt")
        await wait_state(client, first["id"], {"interrupted"})
        await client.post(f"/v1/tasks/{first['id']}/resume", json={"prompt": "hello"})
        await wait_state(client, first["id"], {"completed"})
        # Not opted in, and its kind is not one the webhook takes: never told.
        quiet = await client.post("/v1/tasks", json={"prompt": "hello", "repo": str(repo)})
        await wait_state(client, quiet.json()["id"], {"completed"})
    tried = await pending_attempts(daemon, 1)
    assert all(a["status_code"] == 500 for d in tried for a in d["attempts"])

    daemon.kill9()
    receiver.always_fail = False
    await daemon.start()
    bodies = await asyncio.to_thread(receiver.wait_for, 2)
    assert receiver.bad_signatures == 0
    once = list({b["id"]: b for b in bodies}.values())  # at least once: de-duplicated by id
    assert [(b["kind"], b["data"]["task_id"]) for b in once] == [
        ("task.interrupted", first["id"]),
        ("task.completed", first["id"]),
    ]
    async with daemon.client() as client:
        listed = (await client.get("/v1/notify/deliveries?status=delivered")).json()
    assert {d["id"] for d in listed["deliveries"]} == {b["id"] for b in once}
    code, out, err = await daemon.cli("notify", "deliveries", "--status", "delivered", "--json")
    assert code == 0, err
    assert {d["id"] for d in json.loads(out)["deliveries"]} == {b["id"] for b in once}
    code, out, err = await daemon.cli("notify", "deliveries")
    assert code == 0, err
    assert out.count("delivered") == 2 and "task.interrupted" in out
