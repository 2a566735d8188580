"""Claims over several hosts on one PostgreSQL: 1,000 queued tasks, 1/4/16 hosts.

Each host is a whole task service (its scheduler, runner, writer) with its own connections
to one database (a throwaway PostgreSQL from Debian's binaries, as the tests start it) and a
scripted Codex runtime whose turns complete at once, so what is measured is claiming and
settling through the store. Every task must be claimed exactly once: its events say how
many times it went to ``running`` (and on which host), and its ``attempts`` too.

Run: ``.venv/bin/python bench/cluster_claims.py [--tasks 1000] [--hosts 1,4,16]``.
Target: zero duplicate claims; claims/s reported per host count (no target of its own:
the figure to compare later changes with).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.postgres import PostgresServer, running_postgres

from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.domain.ids import IdGenerator
from codex_runner.domain.task import Task, TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.hosts import HostSettings
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.sql import SqlStore
from verdicts import report

PER_HOST = 4  # each host's max_concurrent_tasks
TIMEOUT_S = 600


def runtime_of_host(number: int) -> ScriptedRuntime:
    runtime = ScriptedRuntime(lambda _: complete)
    runtime.threads = number * 1_000_000  # thread ids unique across hosts, as Codex's are
    return runtime


async def one_round(server: PostgresServer, tasks: int, hosts: int) -> tuple[float, int, int]:
    """(claims/s, tasks claimed more than once, tasks not completed)."""
    url = server.new_database()
    ids = IdGenerator()
    now = datetime.now(UTC)
    async with await SqlStore.open(url, readers=1) as seed:
        for _ in range(tasks):
            task_id = ids.task_id()
            await seed.create_task(
                Task(task_id, "claim me", WorkspaceRequest.directory("/tmp"), now, now)
            )
        queued = [t.id for t in await seed.tasks_in_states([TaskState.QUEUED])]
    stores = [await SqlStore.open(url, readers=1) for _ in range(hosts)]
    services = [
        TaskService(
            store,
            runtime_of_host(i),
            DirectoryWorkspaces(),
            EventBus(),
            max_concurrent=PER_HOST,
            approval_timeout_s=30,
            host=HostSettings(id=f"host-{i}", version="bench", capacity=PER_HOST),
        )
        for i, store in enumerate(stores)
    ]
    started = time.perf_counter()
    for service in services:
        await service.start()
    async with asyncio.timeout(TIMEOUT_S):
        while True:
            counts = await stores[0].count_by_state()
            if counts[TaskState.COMPLETED] + counts[TaskState.FAILED] >= tasks:
                break
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    for service in services:
        await service.stop()
    claims: Counter[str] = Counter()
    for task_id in queued:
        for event in await stores[0].read_events(task_id, limit=1000):
            if event.type == "task.state_changed" and event.data.get("to") == "running":
                claims[task_id] += 1
    done = await stores[0].count_by_state()
    for store in stores:
        await store.close()
    duplicates = sum(1 for n in claims.values() if n > 1) + sum(1 for t in queued if claims[t] == 0)
    return tasks / elapsed, duplicates, tasks - done[TaskState.COMPLETED]


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--hosts", default="1,4,16")
    args = parser.parse_args()
    host_counts = [int(h) for h in args.hosts.split(",")]
    print(f"{args.tasks} tasks, each host runs {PER_HOST} at once, scripted instant turns")
    print("| hosts | claims/s | claimed twice or never | not completed |")
    print("|------:|---------:|-----------------------:|--------------:|")
    worst = 0
    with running_postgres() as server:
        for hosts in host_counts:
            rate, duplicates, missing = await one_round(server, args.tasks, hosts)
            worst = max(worst, duplicates, missing)
            print(f"| {hosts:>5} | {rate:>8.0f} | {duplicates:>22} | {missing:>13} |")
    report(
        "cluster_claims",
        "tasks claimed other than exactly once",
        str(worst),
        "0",
        worst == 0,
    )
    return 0 if worst == 0 else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
