"""Restart: the daemon back up, with crashed tasks reconciled, over a store of 10,000 tasks.

The database is built once, in bulk: ``--tasks`` tasks (default 10,000), most completed, some
queued, failed, cancelled and interrupted, and ``--active`` (default 300) left running or
awaiting approval (with a pending approval) as a crash leaves them; each task has a few
events. Every measured start gets a fresh copy of that file, in a home otherwise left as the
previous start left it (the Codex home included, as a restart finds it; a first start also
creates Codex's own databases, which takes it about twice as long). Measured, median of
``--rounds``:

- daemon: from spawning ``codex-runner serve --port 0`` (scripted model provider, so Codex
  starts offline) until ``/readyz`` answers 200 *and* ``/v1/status`` shows every formerly
  active task interrupted;
- the steps, as the daemon itself timed them (its ``daemon ready`` log line): Python
  imports, the store opening, reconciliation and the Codex app-server starting (these two
  run at once), and the HTTP server starting;
- what FastAPI's import would add (the API uses its own small routing layer over Starlette
  instead, see :mod:`import_cost`): its import against Starlette's and pydantic's, as a
  ratio, and the difference against the daemon's imports; skipped, saying so, when FastAPI
  is not installed (it is not a dependency: ``.venv/bin/pip install fastapi`` to measure).

Run: ``.venv/bin/python bench/restart.py [--tasks N] [--active N] [--rounds R]``.
Target: daemon ready and reconciled in < 1 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import tomli_w
from sqlalchemy import create_engine, insert

from codex_runner.domain import durable_event
from codex_runner.domain.approval import Approval
from codex_runner.domain.events import ApprovalKind, CodexEvent, EventKind, Item, ItemType
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.domain.transitions import Action
from codex_runner.logs import LogLayout, LogQuery, read
from codex_runner.runner_home.daemon_info import read_info
from codex_runner.store import rows
from codex_runner.store.sql import SqlStore
from codex_runner.store.tables import approvals, event_counters, events, tasks
from daemon_process import stop_daemon
from import_cost import measure_fastapi
from verdicts import report

TARGET_S = 1.0
STEPS = ("total_s", "imports_s", "store_s", "reconcile_s", "codex_s", "http_s")
START_TIMEOUT_S = 60.0
DB = "runner.sqlite"
MOCK_PROVIDER = {
    "model": "mock-model",
    "model_provider": "mock",
    "model_providers": {
        "mock": {
            "name": "mock",
            # Nothing listens here: Codex does not call the model to start, and the queued
            # tasks the scheduler picks up after the restart fail fast without retries.
            "base_url": "http://127.0.0.1:9/v1",
            "wire_api": "responses",
            "env_key": "MOCK_API_KEY",
            "request_max_retries": 0,
            "stream_max_retries": 0,
        }
    },
}


# --- building the database ---------------------------------------------------------------------


def plan_states(total: int, active: int) -> list[TaskState]:
    """The mix: ``active`` running/awaiting approval, 2% queued, 2% failed, 1% cancelled,
    1% interrupted, the rest completed."""
    counts = {
        TaskState.RUNNING: active - active // 3,
        TaskState.AWAITING_APPROVAL: active // 3,
        TaskState.QUEUED: total // 50,
        TaskState.FAILED: total // 50,
        TaskState.CANCELLED: total // 100,
        TaskState.INTERRUPTED: total // 100,
    }
    counts[TaskState.COMPLETED] = total - sum(counts.values())
    states = [state for state, n in counts.items() for _ in range(n)]
    # Interleave so states are spread over creation time as they are in a real store.
    return [states[(i * 7919) % len(states)] for i in range(len(states))]


def build_task(
    ids: IdGenerator, state: TaskState, created: datetime, cwd: str
) -> tuple[Task, list[durable_event.NewEvent], Approval | None]:
    task = Task(
        id=ids.task_id(),
        prompt=f"fix the flaky test in module {created.microsecond}",
        workspace=WorkspaceRequest(cwd=cwd),
        created_at=created,
        updated_at=created,
    )
    new = [durable_event.task_created(task)]
    now = created

    def step(action: Action, reason: str | None = None) -> None:
        nonlocal task, now
        now += timedelta(seconds=1)
        task, event = durable_event.transition(task, action, now=now, reason=reason)
        new.append(event)

    if state is TaskState.QUEUED:
        return task, new, None
    if state is TaskState.CANCELLED:
        step(Action.CANCEL, "cancelled by request")
        return task, new, None
    step(Action.START)
    item = Item("call_1", ItemType.COMMAND_EXECUTION, command="pytest -q", cwd=cwd)
    for kind in (EventKind.TURN_STARTED, EventKind.ITEM_STARTED, EventKind.ITEM_COMPLETED):
        new.append(durable_event.codex(CodexEvent(kind, "th", "tu", item), at=now))
    approval = None
    if state is TaskState.AWAITING_APPROVAL:
        approval = Approval(
            id=ids.approval_id(),
            task_id=task.id,
            request_id="r1",
            kind=ApprovalKind.COMMAND,
            created_at=now,
            thread_id="th",
            command="rm -rf build",
        )
        new.append(durable_event.approval_requested(approval))
        step(Action.PARK_FOR_APPROVAL)
    elif state is TaskState.COMPLETED:
        task = replace(task, final_message="done")
        step(Action.COMPLETE, "turn completed")
    elif state is TaskState.FAILED:
        step(Action.FAIL, "model refused")
    elif state is TaskState.INTERRUPTED:
        step(Action.INTERRUPT, "interrupted by request")
    return task, new, approval


def build_database(path: Path, total: int, active: int, cwd: str) -> dict[str, int]:
    """Create the schema (SqlStore's migrations), then bulk-insert the tasks; state counts."""

    async def migrate() -> None:
        await (await SqlStore.open(path)).close()

    asyncio.run(migrate())
    ids = IdGenerator()
    start = datetime.now(UTC) - timedelta(days=30)
    task_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    counter_rows: list[dict[str, Any]] = []
    approval_rows: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    for i, state in enumerate(plan_states(total, active)):
        task, new, approval = build_task(ids, state, start + timedelta(minutes=4 * i), cwd)
        counts[state.value] = counts.get(state.value, 0) + 1
        task_rows.append(rows.task_to_row(task))
        counter_rows.append({"task_id": task.id, "last_seq": len(new)})
        event_rows += [
            {"task_id": task.id, "seq": n, "type": e.type, "at": e.at, "data": e.data}
            for n, e in enumerate(new, 1)
        ]
        if approval is not None:
            approval_rows.append(rows.approval_to_row(approval))
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(insert(tasks), task_rows)
        conn.execute(insert(event_counters), counter_rows)
        conn.execute(insert(events), event_rows)
        if approval_rows:
            conn.execute(insert(approvals), approval_rows)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    counts["events"] = len(event_rows)
    return counts


def copy_database(pristine: Path, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):
        (home / (DB + suffix)).unlink(missing_ok=True)
    shutil.copyfile(pristine, home / DB)


# --- the measurements ----------------------------------------------------------------------


def write_config(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    settings = {
        "codex": {"config": MOCK_PROVIDER, "approval_policy": "never"},
        "service": {"max_concurrent_tasks": 8},
    }
    (home / "config.toml").write_text(tomli_w.dumps(settings))


def daemon_env(home: Path) -> dict[str, str]:
    return {**os.environ, "CODEX_RUNNER_HOME": str(home), "MOCK_API_KEY": "bench"}


async def daemon_restart(home: Path, active_before: int, interrupted_before: int) -> float:
    """Seconds from spawn until ready and reconciled."""
    (home / "run" / "daemon.json").unlink(missing_ok=True)
    # The client is set up before the clock starts: its own start-up (an SSL context,
    # proxy settings) is not the daemon's, and would compete with it for the CPUs.
    async with httpx.AsyncClient(timeout=5, trust_env=False) as client:
        started = time.perf_counter()
        with (home / "serve.log").open("ab") as log:
            proc = subprocess.Popen(  # noqa: ASYNC220 - stopped synchronously below
                [sys.executable, "-m", "codex_runner", "serve", "--port", "0"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=daemon_env(home),
                start_new_session=True,
            )
        try:
            while True:
                if time.perf_counter() - started > START_TIMEOUT_S:
                    raise RuntimeError(f"the daemon did not start; see {home / 'serve.log'}")
                if proc.poll() is not None:
                    raise RuntimeError(f"the daemon exited; see {home / 'serve.log'}")
                info = read_info(home)
                if info is not None and info.pid == proc.pid:
                    token = (home / "api-token").read_text().strip()
                    client.headers["Authorization"] = f"Bearer {token}"
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"{info.url}/readyz")).status_code == 200:
                            status = (await client.get(f"{info.url}/v1/status")).json()
                            counts = status["counts"]
                            reconciled = counts["interrupted"] - interrupted_before
                            if reconciled == active_before:
                                return time.perf_counter() - started
                await asyncio.sleep(0.005)
        finally:
            stop_daemon(proc)


def startup_steps(home: Path) -> dict[str, float]:
    """The steps of the daemon's last start, from its log (seconds)."""
    for entry in reversed(read(LogLayout(home / "logs"), LogQuery())):
        if entry["message"].startswith("daemon ready"):
            return {k: float(v) for k, v in entry["fields"].items()}
    raise RuntimeError(f"no 'daemon ready' line in {home / 'logs' / 'runner'}")


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def measure(
    root: Path, pristine: Path, counts: dict[str, int], rounds: int
) -> dict[str, list[float]]:
    active = counts.get("running", 0) + counts.get("awaiting_approval", 0)
    samples: dict[str, list[float]] = {k: [] for k in ("daemon", *STEPS)}
    # One home throughout, as a restarted daemon finds it: its Codex home, logs and token
    # left by the previous run (round 0 creates them and is dropped). Only the database is
    # put back each time, so every start has the same crashed tasks to reconcile.
    home = root / "home"
    write_config(home)
    for r in range(rounds + 1):
        copy_database(pristine, home)
        daemon_s = await daemon_restart(home, active, counts.get("interrupted", 0))
        steps = startup_steps(home)
        if r:
            samples["daemon"].append(daemon_s)
            for key in STEPS:
                samples[key].append(steps[key])
    return samples


def main(total: int, active: int, rounds: int) -> None:
    os.environ.setdefault("MOCK_API_KEY", "bench")
    root = Path(tempfile.mkdtemp(prefix="codex-runner-restart-"))
    try:
        work = root / "work"
        work.mkdir()
        pristine = root / "pristine" / DB
        pristine.parent.mkdir()
        built = time.perf_counter()
        counts = build_database(pristine, total, active, str(work))
        build_s = time.perf_counter() - built
        samples = asyncio.run(measure(root, pristine, counts, rounds))
        fastapi = measure_fastapi(max(rounds, 5))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    mix = ", ".join(f"{k} {v}" for k, v in counts.items())
    print(f"\nrestart over {total} tasks ({mix}); built in {build_s:.1f}s")
    print(
        f"median of {rounds} rounds, this machine ({os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f})\n"
    )
    print("| step                                                | median ms |   min ms |")
    print("|-----------------------------------------------------|-----------|----------|")
    labels = [
        ("daemon", "daemon: spawn -> /readyz 200 + all reconciled"),
        ("total_s", "  as the daemon timed it (from its first import)"),
        ("imports_s", "    imports"),
        ("store_s", "    store open (migrations checked)"),
        ("reconcile_s", "    reconcile active tasks   } at once"),
        ("codex_s", "    codex app-server start   }"),
        ("http_s", "    HTTP server listening"),
    ]
    for key, label in labels:
        values = samples[key]
        print(f"| {label:<51} | {median_ms(values):>9.1f} | {min(values) * 1000:>8.1f} |")
    rest = median_ms(samples["daemon"]) - median_ms(samples["total_s"])
    print(f"| {'  rest (interpreter start, the client polling)':<51} | {rest:>9.1f} | {'':>8} |")
    if fastapi is None:
        print(
            "\nFastAPI is not installed here, so its import cost is not measured "
            "(.venv/bin/pip install fastapi to measure it; it is not a dependency)"
        )
    else:
        imports_ms = median_ms(samples["imports_s"])
        print(
            f"\nFastAPI's import: {fastapi.fastapi_s * 1000:.1f} ms, {fastapi.ratio:.2f}x "
            f"Starlette's and pydantic's ({fastapi.baseline_s * 1000:.1f} ms); on the API it "
            f"would add {fastapi.delta_s * 1000:.1f} ms, "
            f"{fastapi.delta_s * 1000 / imports_ms:.2f}x the daemon's imports ({imports_ms:.1f} ms)"
        )
    daemon_s = statistics.median(samples["daemon"])
    report(
        "restart", "daemon restart", f"{daemon_s:.3f} s", f"< {TARGET_S:g} s", daemon_s < TARGET_S
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--active", type=int, default=300, help="running or awaiting approval")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    main(args.tasks, args.active, args.rounds)
