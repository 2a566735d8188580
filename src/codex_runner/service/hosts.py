"""This host among the others on one store: it registers, heartbeats every ``heartbeat_s``,
and takes over the active tasks of hosts whose heartbeat is older than ``lease_s``
(interrupted with reason ``host_lost``, queued again with ``auto_resume``, each on a new
lease so the lost host can write nothing more for them). A host that finds it was taken
over (it was paused or cut off past its lease) stops its turns and registers again.

A host that cannot renew its lease stops its turns by itself, before the others may take
them over: a partition can leave it unable to hear that it was taken over, and without this
two hosts would run the same task's turn until the link came back (the store fences off
the old host's writes, but not its Codex).

Each beat also wakes the scheduler: work submitted on another host is picked up within a
beat even without a notification.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from codex_runner.domain.hosts import Host, host_lost_reason
from codex_runner.domain.task import Task
from codex_runner.service.errors import InvalidRequest
from codex_runner.service.recovery import Recovery
from codex_runner.store.protocol import Store

log = logging.getLogger(__name__)


# A steer's text travels in the notice; PostgreSQL caps a notice's payload at 8000 bytes.
MAX_REMOTE_STEER_BYTES = 7000


@dataclass(frozen=True)
class Control:
    """A request for the host running ``task`` (``host``) to act on it."""

    host: str
    task: str
    action: str  # interrupt | cancel | steer | approval
    text: str | None = None  # the steer's input
    approval: str | None = None  # the approval whose decision to deliver

    def to_json(self) -> str:
        return json.dumps({"control": asdict(self)}, separators=(",", ":"))


def parse_control(topic: str) -> Control | None:
    """The control a notice carries; None for a plain "work was queued" notice."""
    if not topic.startswith("{"):
        return None
    try:
        return Control(**json.loads(topic)["control"])
    except (ValueError, KeyError, TypeError):
        log.warning("ignoring a notice this host cannot read: %.200s", topic)
        return None


@dataclass(frozen=True)
class HostSettings:
    id: str
    version: str
    capacity: int
    heartbeat_s: float = 2.0
    lease_s: float = 10.0


class HostMembership:
    def __init__(
        self,
        store: Store,
        settings: HostSettings,
        recovery: Recovery,
        *,
        clock: Callable[[], datetime],
        wake: Callable[[], None],
        lost: Callable[[str], Awaitable[None]],
    ) -> None:
        """``wake`` the scheduler at each beat; ``lost(reason)`` stops this host's turns
        when another host took them over."""
        self.settings = settings
        self._store = store
        self._recovery = recovery
        self._clock = clock
        self._wake = wake
        self._lost = lost
        self._beats: asyncio.Task[None] | None = None
        self._fence: asyncio.Task[None] | None = None
        self._renewed_at = 0.0  # the loop's clock when the last renewed lease began
        self._fenced = False  # its turns were stopped since the lease was last renewed
        self._stop_listening: Callable[[], None] | None = None
        self.draining = False
        self.shared = False  # other hosts may share the store (it is PostgreSQL)
        # What this host does when another asks it to act on a task it runs.
        self.on_control: Callable[[Control], Awaitable[None]] | None = None

    @property
    def id(self) -> str:
        return self.settings.id

    async def register(self) -> None:
        now = self._clock()
        s = self.settings
        host = Host(s.id, socket.gethostname(), s.version, s.capacity, now, now)
        started = asyncio.get_running_loop().time()
        await self._store.save_host(host)
        self._renewed(started)

    def start(self) -> None:
        if self._beats is None:
            self._beats = asyncio.create_task(self._beat_forever(), name="codex-runner-hosts")
        if self._fence is None:
            self._fence = asyncio.create_task(self._fence_forever(), name="codex-runner-fence")
        if self._stop_listening is None:
            loop = asyncio.get_running_loop()

            def heard(topic: str) -> None:  # on the listener's thread: act on this loop
                control = parse_control(topic)
                if control is None:
                    loop.call_soon_threadsafe(self._wake)
                elif control.host == self.id and self.on_control is not None:
                    asyncio.run_coroutine_threadsafe(self._run_control(control), loop)

            self._stop_listening = self._store.listen_hosts(heard)
            self.shared = self._stop_listening is not None

    async def stop(self) -> None:
        if self._stop_listening is not None:
            await asyncio.to_thread(self._stop_listening)
            self._stop_listening = None
        for job in (self._beats, self._fence):
            if job is not None:
                job.cancel()
                await asyncio.wait([job])
        self._beats = self._fence = None

    def defers(self, task: Task) -> bool:
        """Whether to leave a queued task to the live host that ran it last (it holds the
        task's worktree and has its thread loaded) for a moment: that host was told of the
        work and claims it at once; after two heartbeats any host may."""
        if not self.shared or task.host_id in (None, self.id):
            return False
        waited = (self._clock() - task.updated_at).total_seconds()
        return waited < 2 * self.settings.heartbeat_s

    async def send_control(self, control: Control) -> None:
        """Ask the host running a task to act on it (interrupt, cancel, steer, deliver an
        approval's decision): only that host holds its Codex turn."""
        await self._store.notify_hosts(control.to_json())

    async def _run_control(self, control: Control) -> None:
        assert self.on_control is not None
        try:
            await self.on_control(control)
        except Exception:
            log.exception("host %s could not %s task %s", self.id, control.action, control.task)

    async def announce_work(self) -> None:
        """Tell the other hosts work was queued here (they wake at once, not at a beat)."""
        try:
            await self._store.notify_hosts("queued")
        except Exception:  # a lost notice costs a heartbeat's wait, never the work
            log.warning("could not tell the other hosts about new work", exc_info=True)

    async def beat(self) -> None:
        """One heartbeat, then a sweep for dead hosts: what the loop does every beat."""
        now = self._clock()
        started = asyncio.get_running_loop().time()
        row = await self._store.heartbeat(self.id, now)
        if row is None or row.dead_at is not None:
            log.warning("this host (%s) was taken over by another; stopping its turns", self.id)
            await self._lost(f"{self.id} lost its lease: another host took over its tasks")
            await self.register()
        else:
            self.draining = row.draining
            self._renewed(started)
        await self.sweep(now)
        self._wake()

    async def sweep(self, now: datetime) -> None:
        cutoff = now - timedelta(seconds=self.settings.lease_s)
        for host_id in await self._store.mark_dead_hosts(cutoff, now, except_id=self.id):
            log.warning("host %s sent no heartbeat since before %s: taking over", host_id, cutoff)
        orphans = await self._store.active_tasks_of_dead_hosts()
        by_host: dict[str, list[Task]] = {}
        for task in orphans:
            by_host.setdefault(task.host_id or "", []).append(task)
        for host_id, tasks in by_host.items():
            reason = host_lost_reason(host_id, self.settings.lease_s)
            await self._recovery.take_over(tasks, reason, fence=True)

    def _renewed(self, started: float) -> None:
        """The lease was renewed by a write that began at ``started`` (the loop's clock):
        the others count the lease from then, at the earliest."""
        self._renewed_at = max(self._renewed_at, started)
        if self._fenced:
            log.warning("host %s reaches the store again", self.id)
        self._fenced = False

    def lease_left_s(self) -> float:
        """Seconds until this host must have stopped its turns unless it renews its lease:
        the lease less one heartbeat, a margin for the hosts' clocks and a late sweep."""
        silent = asyncio.get_running_loop().time() - self._renewed_at
        return self.settings.lease_s - self.settings.heartbeat_s - silent

    async def check_lease(self) -> None:
        """Stop this host's turns once its lease may have run out (once per lapse): on a
        shared store only, where another host takes them over."""
        if not self.shared or self._fenced or self.lease_left_s() > 0:
            return
        self._fenced = True
        log.warning(
            "host %s could not renew its lease for %.1f s: stopping its turns before "
            "another host takes them over",
            self.id,
            self.settings.lease_s - self.settings.heartbeat_s - self.lease_left_s(),
        )
        await self._lost(f"{self.id} could not reach the store: its lease ran out")

    async def _fence_forever(self) -> None:
        # Apart from the beats: a beat can hang on a store that does not answer.
        while True:
            await asyncio.sleep(self.settings.heartbeat_s / 2)
            with contextlib.suppress(Exception):
                try:
                    await self.check_lease()
                except Exception:
                    log.exception("host %s could not stop its turns", self.id)
                    raise

    async def _beat_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            with contextlib.suppress(Exception):
                try:
                    await self.beat()
                except Exception:
                    log.exception("heartbeat of host %s failed; trying again", self.id)
                    raise


async def drain_host(store: Store, host_id: str, *, draining: bool) -> None:
    """Stop (or let again) ``host_id`` claiming new work; it reads this at its next beat."""
    if not await store.set_host_draining(host_id, draining):
        raise InvalidRequest("host_id", f"no host {host_id!r}: `codex-runner hosts` lists them")
