"""A model that fails: HTTP 500, 429 with Retry-After, a cut stream, a stream that hangs."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from codex_runner.mockmodel import MockModelServer

from ..acceptance.daemon.harness import TERMINAL, wait_state
from .conftest import FAST_CODEX, StartDaemon
from .invariants import assert_no_run_files, assert_nothing_lost
from .rate_limit_proxy import RateLimitProxy

pytestmark = pytest.mark.acceptance

# Each faulty prompt and words its task's reason must hold (the cause, not a generic text).
FAULTS = {
    # Codex passes a 502's body on (and a 500's not: it says "high demand" instead).
    "bad gateway": "boom from model",
    "server error": "500",
    "rate limited": "429",
    "cut stream": "stream",
    "hang forever": "no event from Codex",
}


async def test_model_failures_fail_their_own_task_with_the_cause_and_spare_the_others(
    start_daemon: StartDaemon, fault_model: MockModelServer, tmp_path: Path
) -> None:
    async with RateLimitProxy(fault_model, "rate limited") as proxy:
        daemon = await start_daemon(service={"max_concurrent_tasks": 8}, model=proxy)
        async with daemon.client() as client:
            submitted: dict[str, str] = {}
            for n, prompt in enumerate([*FAULTS, "quick", "hello"]):
                workdir = tmp_path / f"work-{n}"
                workdir.mkdir()
                body = {"prompt": prompt, "cwd": str(workdir)}
                submitted[prompt] = (await client.post("/v1/tasks", json=body)).json()["id"]
            # The hung stream is bounded by the turn's idle watchdog.
            bound = FAST_CODEX["turn_idle_timeout_s"] + 60
            ended = await asyncio.gather(
                *(
                    wait_state(client, task_id, TERMINAL, timeout=bound)
                    for task_id in submitted.values()
                )
            )
            outcome = dict(zip(submitted, ended, strict=True))
            assert outcome["quick"]["state"] == "completed", outcome["quick"]
            assert outcome["hello"]["state"] == "completed", outcome["hello"]
            reasons = {prompt: outcome[prompt]["reason"] for prompt in FAULTS}
            for prompt in FAULTS:
                assert outcome[prompt]["state"] == "failed", outcome[prompt]
            wrong = {p: r for p, r in reasons.items() if FAULTS[p] not in (r or "")}
            assert not wrong, wrong
            assert proxy.limited >= 1
            await assert_nothing_lost(client, submitted.values())
        daemon.stop()
    assert_no_run_files(daemon.home)
