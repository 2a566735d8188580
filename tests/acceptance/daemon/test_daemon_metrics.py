"""/metrics of a real daemon: real Codex against the scripted model, parsed with
prometheus_client's own parser."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .conftest import StartDaemon
from .harness import TERMINAL, wait_state

pytestmark = pytest.mark.acceptance


Samples = dict[str, list[tuple[dict[str, str], float]]]


async def _scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples.setdefault(s.name, []).append((s.labels, s.value))
    return samples


def _value(samples: Samples, name: str, **labels: str) -> float:
    for have, value in samples.get(name, []):
        if all(have.get(k) == v for k, v in labels.items()):
            return value
    return 0.0


async def test_metrics_change_when_a_task_runs_on_the_real_codex(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client(token="wrong") as stranger:
        assert (await stranger.get("/metrics")).status_code == 401
    async with daemon.client() as client:
        before = await _scrape(client)
        assert _value(before, "codex_runner_tasks", state="completed") == 0
        assert _value(before, "codex_runner_codex_up", state="ready") == 1
        # The app-server's own memory, read from /proc of the pid the runtime reports.
        assert _value(before, "codex_runner_app_server_resident_memory_bytes") > 1_000_000

        response = await client.post("/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path)})
        done = await wait_state(client, response.json()["id"], TERMINAL)
        assert done["state"] == "completed", done
        # The metrics follow the event bus beside the store: wait for the task's last event.
        async with asyncio.timeout(10):
            while True:
                after = await _scrape(client)
                # The first scrape started the disk walk; a later one serves it. The disk
                # policy's first check runs as the daemon starts.
                if (
                    _value(after, "codex_runner_task_duration_seconds_count", state="completed")
                    and _value(after, "codex_runner_disk_files", kind="store")
                    and _value(after, "codex_runner_disk_free_bytes")
                ):
                    break
                await asyncio.sleep(0.05)
        # GET /v1/disk measures again: the task's rollout is in Codex's home now.
        disk = (await client.get("/v1/disk")).json()
    assert _value(after, "codex_runner_tasks", state="completed") == 1
    assert _value(after, "codex_runner_turns_total", outcome="completed") == 1
    assert _value(after, "codex_runner_turn_duration_seconds_count", outcome="completed") == 1
    assert _value(after, "codex_runner_task_duration_seconds_count", state="completed") == 1
    assert _value(after, "codex_runner_queue_wait_seconds_count") == 1
    assert _value(after, "codex_runner_tokens_total", kind="input") > 0
    assert _value(after, "codex_runner_events_total", type="codex.turn.completed") == 1
    assert _value(after, "codex_runner_events_total", type="task.created") == 1
    assert _value(after, "codex_runner_disk_low") == 0  # plenty free: no disk.low
    kinds = {k["kind"]: k for k in disk["kinds"]}
    assert kinds["codex_sessions"]["files"] >= 1 and kinds["store"]["bytes"] > 0
    assert disk["policy"]["dry_run"] is True and disk["free_bytes"] > 0
    assert _value(after, "codex_runner_disk_bytes", kind="store") > 0
