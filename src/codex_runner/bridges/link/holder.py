"""The daemon's chat server link, if any: the one ``[link]`` configures at start, or one a
``codex-runner link`` command asks the running daemon for (``PUT /v1/link``), replacing the
one before it."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from codex_runner import __version__
from codex_runner.codex.endpoint import shared_remote
from codex_runner.config import LinkSettings, RunnerConfig
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService

if TYPE_CHECKING:  # loaded with the first link: a daemon without one never imports it
    from codex_runner.bridges.link.link import ChatLink, LinkStatus


class LinkHolder:
    def __init__(self, config: RunnerConfig, service: TaskService, bus: EventBus) -> None:
        self._config = config
        self._service = service
        self._bus = bus
        self.link: ChatLink | None = None
        self._lock = asyncio.Lock()  # one start or stop at a time

    async def start(self, settings: LinkSettings, token: str) -> ChatLink:
        """Run a link with ``settings`` (url and runner_id set), stopping the current one."""
        from codex_runner.bridges.link.link import ChatLink

        async with self._lock:
            if self.link is not None:
                await self.link.stop()
                self.link = None
            config = self._config.model_copy(update={"link": settings})
            link = ChatLink(
                config,
                self._service,
                self._bus,
                token=token,
                version=__version__,
                remote=shared_remote(config),
            )
            await link.start()
            self.link = link
            return link

    async def stop(self) -> bool:
        async with self._lock:
            if self.link is None:
                return False
            await self.link.stop()
            self.link = None
            return True

    def status(self) -> LinkStatus | None:
        return self.link.status if self.link is not None else None

    async def follow_task(self, task_id: str) -> None:
        """Relay ``task_id``'s new turn to its chat thread, if the link has the task's."""
        if self.link is not None:
            await self.link.follow_task(task_id)

    def queued_messages(self) -> int | None:
        """Chat messages waiting in the link's sessions; None when no link runs."""
        return self.link.queued_messages() if self.link is not None else None
