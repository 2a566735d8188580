"""ChatLink: this runner as a local runner of a chat server, connected out over Phoenix
Channels (so it works behind NAT, with no port opened).

Per connection: join ``local_runner:{runner_id}``; push ``instance_started``; a heartbeat
at once and every ``heartbeat_s``; every numbered event the server has not acknowledged
(the join reply's ``lastSeq``), then each new one as it comes, as ``codex_notification``;
each ``control`` the server pushes answered with one ``codex_response`` or
``codex_error``; with ``[link] channel``, each ``chat_message`` handed to the channel's
sessions (:mod:`~codex_runner.bridges.link.chat_sessions`), whose replies go out through
the current connection. A lost connection is made again with jittered exponential
backoff, capped at 30 s, for ever, one log line per attempt; a refused token stops the
link instead (it would be refused again).
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from codex_runner.bridges.link import payloads
from codex_runner.bridges.link.chat_sessions import LinkChat
from codex_runner.bridges.link.controls import ControlError, Controls
from codex_runner.bridges.link.live_deltas import LiveDeltas, delta_notification
from codex_runner.bridges.link.numbering import NotificationNumbers, Numbered
from codex_runner.bridges.link.numbering_feed import NumberingFeed
from codex_runner.bridges.link.phoenix import (
    Message,
    PhoenixError,
    PhoenixSocket,
    TokenRejected,
)
from codex_runner.bridges.link.transport import LinkUnavailable
from codex_runner.config import LinkSettings, RunnerConfig
from codex_runner.domain.delta import Delta
from codex_runner.domain.durable_event import TaskEvent
from codex_runner.domain.task import TaskState
from codex_runner.runner_home.team_home import team_memory
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService

log = logging.getLogger(__name__)

RECONNECT_BASE_S = 0.5
RECONNECT_MAX_S = 30.0
SEND_WINDOW = 32  # notifications in flight at once (each waits for its reply)
MAX_CONTROLS = 16  # controls handled at once; more wait their turn
PAGE = 200


@dataclass(frozen=True)
class LinkStatus:
    state: str  # starting | connecting | connected | disconnected | rejected | stopped
    url: str
    runner_id: str
    instance_id: str | None = None
    serving: bool = True
    connected_since: datetime | None = None
    last_heartbeat_at: datetime | None = None
    last_acked_seq: int = 0
    last_seq: int = 0
    last_error: str | None = None
    attempts: int = 0  # connection attempts since the last success
    thread_id: str | None = None  # the bound chat session's Codex thread (`link --tui`)


def _now() -> datetime:
    return datetime.now(UTC)


class ChatLink:
    def __init__(
        self,
        config: RunnerConfig,
        service: TaskService,
        bus: EventBus,
        *,
        token: str,
        version: str,
        remote: str | None = None,
        connect: Callable[..., Awaitable[PhoenixSocket]] = PhoenixSocket.connect,
    ) -> None:
        settings = config.link
        assert settings.url is not None and settings.runner_id is not None
        self.settings: LinkSettings = settings
        self._config = config
        self._service = service
        self._token = token
        self._version = version
        self._remote = remote
        self._connect = connect
        self._topic = f"local_runner:{settings.runner_id}"
        self._cwd = Path(settings.cwd).expanduser().resolve() if settings.cwd else Path.cwd()
        self._numbers = NotificationNumbers(config.home / "link" / "numbering.db")
        self._new = asyncio.Event()
        self._feed = NumberingFeed(
            service.store, bus, self._numbers, on_new=self._new.set, on_event=self._watch
        )
        self._deltas = LiveDeltas(bus, self._send_delta)
        self._sock: PhoenixSocket | None = None  # while connected
        self._serving = True
        self.status = LinkStatus("starting", settings.url, settings.runner_id)
        self._instance: payloads.Instance | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._chat: LinkChat | None = None  # with [link] channel, from start() on
        bound = settings.channel is not None
        self.controls = Controls(
            service,
            self._cwd,
            serving=lambda: self._serving,
            set_serving=self._set_serving,
            drop_queued=(lambda ids, by: self._bound().drop_queued(ids, by)) if bound else None,
            decide_in_chat=(lambda a, d, by: self._bound().decide(a, d, by)) if bound else None,
        )

    # lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Open the numbering and run the link in the background (it never blocks start)."""
        await self._numbers.open()
        instance_id = await self._numbers.instance_id(self.settings.runner_id or "")
        codex = self._config.codex
        self._instance = payloads.Instance(
            instance_id=instance_id,
            runner_id=self.settings.runner_id or "",
            hostname=socket.gethostname(),
            cwd=str(self._cwd),
            channel=self.settings.channel,
            model=codex.model,
            effort=codex.effort,
            service_tier=None,
            remote=self._remote,
        )
        self.status = replace(
            self.status, instance_id=instance_id, last_seq=await self._numbers.last_seq()
        )
        if self.settings.channel is not None:
            self._chat = LinkChat(
                db_path=self._config.home / "link" / "chat.sqlite",
                service=self._service,
                channel=self.settings.channel,
                cwd=self._cwd,
                push=self._push_chat,
                instance_id=instance_id,
                team_memory=lambda: team_memory(self._config.home, self._config.auth.team_home),
            )
            await self._chat.start()
        self._tasks = [
            asyncio.create_task(self._feed.run(), name="link-numbering"),
            asyncio.create_task(self._run(), name="link-connection"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        # asyncio.wait: a cancelled child's CancelledError must not be taken for our own.
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)
        self._tasks = []
        if self._chat is not None:
            await self._chat.stop(10)
            self._chat = None
        await self._deltas.close()
        await self._numbers.close()
        if self.status.state != "rejected":
            self.status = replace(self.status, state="stopped")

    async def wait_stopped(self) -> None:
        """Until the link ends on its own (a refused token) or is stopped."""
        if self._tasks:
            await asyncio.wait([self._tasks[1]])

    def _watch(self, event: TaskEvent) -> None:
        """A running task's deltas go out live; they stop when its turn ends."""
        if event.type == "task.state_changed":
            if event.data.get("to") == TaskState.RUNNING.value:
                self._deltas.follow(event.task_id)
            elif event.data.get("to") != TaskState.AWAITING_APPROVAL.value:
                self._deltas.unfollow(event.task_id)

    async def _send_delta(self, task_id: str, delta: Delta) -> None:
        sock, instance = self._sock, self._instance
        if sock is None or instance is None or sock.closed:
            return  # deltas are live only: none wait for a connection
        payload = delta_notification(instance.instance_id, task_id, delta)
        await sock.push(self._topic, "codex_notification", payload)

    async def follow_task(self, task_id: str) -> None:
        """Relay ``task_id``'s new turn to its chat thread (ChatCore.follow_task)."""
        if self._chat is not None:
            await self._chat.core.follow_task(task_id)

    def queued_messages(self) -> int:
        """Chat messages waiting for their thread's turn to end (0 without [link] channel)."""
        return self._chat.core.db.queued_count() if self._chat is not None else 0

    def _bound(self) -> LinkChat:
        assert self._chat is not None, "the link's chat sessions start with the link"
        return self._chat

    async def _push_chat(self, event: str, payload: dict[str, Any]) -> dict[str, Any]:
        """A chat session's push, through the current connection (none: try later)."""
        sock = self._sock
        if sock is None or sock.closed:
            raise LinkUnavailable(f"{event}: the chat server link is not connected")
        return await sock.push(self._topic, event, payload)

    def _set_serving(self, serving: bool) -> None:
        self._serving = serving
        self.status = replace(self.status, serving=serving)

    # the connection, again and again -----------------------------------------------------
    async def _run(self) -> None:
        attempt = 0
        while True:
            attempt += 1
            self.status = replace(self.status, state="connecting", attempts=attempt)
            try:
                await self._connected_session()
                attempt = 0  # the connection worked: the next loss starts the backoff over
            except TokenRejected as exc:
                self.status = replace(self.status, state="rejected", last_error=str(exc))
                log.error("the chat server link stopped: %s", exc)
                return
            except Exception as exc:
                if not isinstance(exc, PhoenixError | OSError):  # a bug: say so, keep linking
                    log.exception("the chat server link failed; connecting again")
                self.status = replace(self.status, state="disconnected", last_error=str(exc))
                delay = min(RECONNECT_MAX_S, RECONNECT_BASE_S * 2 ** min(attempt, 10))
                delay *= random.uniform(0.5, 1.0)
                log.warning(
                    "chat server link: %s; connecting again in %.1f s (attempt %d)",
                    exc,
                    delay,
                    attempt,
                )
                await asyncio.sleep(delay)

    async def _connected_session(self) -> None:
        assert self._instance is not None
        async with await self._connect(
            self.settings.url, token=self._token, timeout_s=10.0
        ) as sock:
            reply = await sock.join(self._topic, payloads.join_payload(self._version))
            acked = reply.get("lastSeq")
            acked = acked if isinstance(acked, int) and acked >= 0 else 0
            self.status = replace(
                self.status,
                state="connected",
                connected_since=_now(),
                last_acked_seq=acked,
                last_error=None,
                attempts=0,
            )
            log.info("chat server link connected to %s as %s", self.settings.url, self._topic)
            threads = await self._threads_here()
            await sock.push(
                self._topic, "instance_started", payloads.instance_started(self._instance, threads)
            )
            self._sock = sock
            if self._chat is not None:
                self._chat.wake()  # replies that waited for the link
            parts = [
                asyncio.create_task(self._beat(sock), name="link-heartbeat"),
                asyncio.create_task(self._send(sock, acked), name="link-notifications"),
                asyncio.create_task(self._listen(sock), name="link-controls"),
            ]
            try:
                done, _ = await asyncio.wait(parts, return_when=asyncio.FIRST_EXCEPTION)
                for part in done:
                    part.result()  # raises the connection's end
            finally:
                self._sock = None
                for part in parts:
                    part.cancel()
                # Not `await part` under suppress(CancelledError): that would swallow the
                # cancellation of this task (a stopping link) along with the parts'.
                await asyncio.wait(parts, timeout=10)

    async def _threads_here(self) -> list[dict[str, Any]]:
        try:
            found = await self._service.sessions.threads(self._cwd)
        except Exception as exc:  # the exec runtime lists none; an instance still starts
            log.info("no Codex threads listed for the chat server: %s", exc)
            return []
        return [
            {"id": t.id, "preview": t.preview, "taskId": owner, "cwd": t.cwd} for t, owner in found
        ]

    # heartbeats --------------------------------------------------------------------------
    async def _beat(self, sock: PhoenixSocket) -> None:
        assert self._instance is not None
        while True:
            status = await self._service.status()
            counts = status.counts
            chat_thread, thread_id = await self._chat.bound() if self._chat else (None, None)
            payload = payloads.heartbeat(
                self._instance,
                serving=self._serving,
                running=counts.get(TaskState.RUNNING, 0)
                + counts.get(TaskState.AWAITING_APPROVAL, 0),
                queued=counts.get(TaskState.QUEUED, 0),
                chat_thread=chat_thread,
                thread_id=thread_id,
                rate_limits=status.runtime.rate_limits,
            )
            await sock.push(self._topic, "heartbeat", payload)
            self.status = replace(self.status, last_heartbeat_at=_now(), thread_id=thread_id)
            await asyncio.sleep(self.settings.heartbeat_s)

    # notifications -----------------------------------------------------------------------
    async def _send(self, sock: PhoenixSocket, acked: int) -> None:
        """Every numbered event after ``acked``, then each new one, in order."""
        assert self._instance is not None
        after = acked
        while True:
            self._new.clear()
            page = await self._numbers.after(after, limit=PAGE)
            if not page:
                await self._new.wait()
                continue
            events = await self._load(page)
            for start in range(0, len(page), SEND_WINDOW):
                window = page[start : start + SEND_WINDOW]
                await asyncio.gather(
                    *(
                        sock.push(
                            self._topic,
                            "codex_notification",
                            payloads.notification(
                                self._instance.instance_id,
                                n.seq,
                                events[(n.task_id, n.event_seq)],
                            ),
                        )
                        for n in window
                        if (n.task_id, n.event_seq) in events
                    )
                )
                after = window[-1].seq
                self.status = replace(self.status, last_acked_seq=after, last_seq=after)

    async def _load(self, page: list[Numbered]) -> dict[tuple[str, int], TaskEvent]:
        """The stored events a page of numbers names."""
        wanted: dict[str, list[int]] = {}
        for n in page:
            wanted.setdefault(n.task_id, []).append(n.event_seq)
        found: dict[tuple[str, int], TaskEvent] = {}
        store = self._service.store
        for task_id, seqs in wanted.items():
            first, last = min(seqs), max(seqs)
            events = await store.read_events(task_id, after_seq=first - 1, limit=last - first + 1)
            found.update({(task_id, e.seq): e for e in events})
        return found

    # controls ----------------------------------------------------------------------------
    async def _listen(self, sock: PhoenixSocket) -> None:
        slots = asyncio.Semaphore(MAX_CONTROLS)
        running: set[asyncio.Task[None]] = set()
        try:
            while True:
                message = await sock.receive()
                if message.event == "chat_message" and self._chat is not None:
                    self._chat.offer(message.payload)
                    continue
                if message.event != "control":
                    log.info("chat server link: ignored %s on %s", message.event, message.topic)
                    continue
                await slots.acquire()
                task = asyncio.create_task(self._answer(sock, message))
                running.add(task)
                task.add_done_callback(running.discard)
                task.add_done_callback(lambda _t: slots.release())
        finally:
            for task in running:
                task.cancel()

    async def _answer(self, sock: PhoenixSocket, message: Message) -> None:
        assert self._instance is not None
        instance_id = self._instance.instance_id
        control = message.payload
        control_type = control.get("type")
        ref = control.get("requestRef", message.ref)
        if not isinstance(control_type, str) or not control_type:
            await sock.push(
                self._topic,
                "codex_error",
                payloads.error(instance_id, "", ref, "a control needs a type"),
            )
            return
        try:
            result = await self.controls.handle(control_type, control)
        except ControlError as exc:
            await sock.push(
                self._topic, "codex_error", payloads.error(instance_id, control_type, ref, str(exc))
            )
            return
        await sock.push(
            self._topic,
            "codex_response",
            payloads.response(instance_id, control_type, ref, result),
        )
