"""Host routes: the hosts sharing the store, and draining one (it claims no new work)."""

from __future__ import annotations

from datetime import UTC, datetime

from codex_runner.domain.task import ACTIVE_STATES
from codex_runner.http.errors import ERROR_RESPONSES
from codex_runner.http.routing import Router
from codex_runner.http.wire_hosts import HostList, HostOut
from codex_runner.service import hosts as host_service
from codex_runner.service.tasks import TaskService


def host_routes(service: TaskService) -> Router:
    router = Router(prefix="/v1/hosts", tags=["hosts"], responses=ERROR_RESPONSES)

    async def listed() -> HostList:
        hosts = await service.store.list_hosts()
        active = await service.store.tasks_in_states(ACTIVE_STATES)
        me = service.hosts.id if service.hosts is not None else None
        now = datetime.now(UTC)
        return HostList(
            hosts=[
                HostOut.of(
                    h,
                    now=now,
                    running=sum(t.host_id == h.id for t in active),
                    this_host=h.id == me,
                )
                for h in hosts
            ]
        )

    @router.get("")
    async def list_hosts() -> HostList:
        """Every host, live and dead: heartbeat age, capacity, running tasks, version."""
        return await listed()

    @router.post("/{host_id}/drain")
    async def drain(host_id: str, undo: bool = False) -> HostList:
        """Stop the host claiming new work (its running tasks go on); ``undo`` reopens it."""
        await host_service.drain_host(service.store, host_id, draining=not undo)
        return await listed()

    return router
