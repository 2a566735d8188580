"""Work queued on one host wakes the others at once over PostgreSQL's LISTEN/NOTIFY (their
heartbeat, which would also wake them, is a minute away here)."""

from __future__ import annotations

import asyncio

from codex_runner.codex.scripted import ScriptedRuntime, complete
from codex_runner.domain.task import TaskState, WorkspaceRequest
from codex_runner.service.event_bus import EventBus
from codex_runner.service.hosts import HostSettings
from codex_runner.service.tasks import DirectoryWorkspaces, TaskService
from codex_runner.store.sql import SqlStore

from ...support.postgres import PostgresServer


def host(store: SqlStore, name: str, offset: int) -> TaskService:
    runtime = ScriptedRuntime(lambda _: complete)
    runtime.threads = offset  # thread ids unique across hosts, as Codex's are
    settings = HostSettings(id=name, version="t", capacity=2, heartbeat_s=60, lease_s=120)
    return TaskService(
        store,
        runtime,
        DirectoryWorkspaces(),
        EventBus(),
        max_concurrent=2,
        approval_timeout_s=5,
        host=settings,
    )


async def test_a_task_queued_on_a_draining_host_is_run_by_another_without_waiting_a_beat(
    postgres: PostgresServer,
) -> None:
    url = postgres.new_database()
    async with await SqlStore.open(url, readers=1) as a, await SqlStore.open(url, readers=1) as b:
        first, second = host(a, "a", 0), host(b, "b", 1000)
        await first.start()
        await second.start()
        try:
            assert await a.set_host_draining("a", True)
            assert first.hosts is not None
            await first.hosts.beat()  # a now claims nothing; b sleeps until told
            task = await first.submit("fix it", WorkspaceRequest.directory("/tmp"))
            async with asyncio.timeout(10):
                async for _ in second.events(task.id):
                    done = await second.get(task.id)
                    if done.state is TaskState.COMPLETED:
                        break
            assert done.host_id == "b"
        finally:
            await first.stop()
            await second.stop()
