"""The in-memory store's hosts, thread rollouts and notices (one process: nobody to
notify). Mixed into InMemoryStore, whose state it reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from codex_runner.domain.hosts import Host, Rollout
from codex_runner.domain.task import Task


class MemoryHosts:
    _hosts: dict[str, Host]
    _rollouts: dict[str, Rollout]
    _tasks: dict[str, Task]

    async def _enter(self) -> None:
        raise NotImplementedError  # InMemoryStore's

    async def save_rollout(self, rollout: Rollout) -> None:
        await self._enter()
        self._rollouts[rollout.thread_id] = rollout

    async def load_rollout(self, thread_id: str) -> Rollout | None:
        await self._enter()
        return self._rollouts.get(thread_id)

    async def notify_hosts(self, topic: str) -> None:
        await self._enter()  # one process: the host that queued the work woke itself

    def listen_hosts(self, on_notice: Callable[[str], None]) -> Callable[[], None] | None:
        return None

    async def save_host(self, host: Host) -> None:
        await self._enter()
        self._hosts[host.id] = host

    async def heartbeat(self, host_id: str, at: datetime) -> Host | None:
        await self._enter()
        host = self._hosts.get(host_id)
        if host is not None:
            host = self._hosts[host_id] = replace(host, heartbeat_at=at)
        return host

    async def list_hosts(self) -> list[Host]:
        await self._enter()
        return sorted(self._hosts.values(), key=lambda h: h.id)

    async def set_host_draining(self, host_id: str, draining: bool) -> bool:
        await self._enter()
        if host_id not in self._hosts:
            return False
        self._hosts[host_id] = replace(self._hosts[host_id], draining=draining)
        return True

    async def mark_dead_hosts(self, cutoff: datetime, now: datetime, except_id: str) -> list[str]:
        await self._enter()
        marked = sorted(
            h.id
            for h in self._hosts.values()
            if h.dead_at is None and h.heartbeat_at < cutoff and h.id != except_id
        )
        for host_id in marked:
            self._hosts[host_id] = replace(self._hosts[host_id], dead_at=now)
        return marked

    async def active_tasks_of_dead_hosts(self) -> list[Task]:
        await self._enter()
        dead = {h.id for h in self._hosts.values() if h.dead_at is not None}
        found = [t for t in self._tasks.values() if t.host_id in dead and t.state.is_active]
        return sorted(found, key=lambda t: (t.created_at, t.id))
