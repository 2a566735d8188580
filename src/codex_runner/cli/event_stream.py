"""Following a task's events live over Server-Sent Events, through drops and reconnects.

A dropped connection is resumed with ``Last-Event-ID``; events come in order and never
twice; the task's state (asked of the daemon) tells a finished stream from a lost one.
Asked for, live deltas (``codex.delta``, never stored, so never resumed) come between them.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Collection, Generator, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from codex_runner.cli.daemon_errors import (
    ClientError,
    DaemonLost,
    error_message,
    first_error,
    raise_for_status,
    unreachable,
)
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.durable_event import STATE_CHANGE_TYPES
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import EventOut
from codex_runner.http.wire_tasks import TaskOut

# The server sends keepalive comments well inside this; silence this long means a dead link.
STREAM_TIMEOUT = httpx.Timeout(connect=5.0, read=60.0, write=10.0, pool=5.0)
MAX_RECONNECTS = 5
RECONNECT_BASE_DELAY_S = 0.1
RECONNECT_MAX_DELAY_S = 5.0


class StreamingDaemon(Protocol):
    """What following needs of the daemon's client."""

    base_url: str

    def get_task(self, task_id: str) -> TaskOut: ...

    def all_events(self, task_id: str, *, after: int = 0) -> Iterator[EventOut]: ...

    def open_stream(
        self,
        path: str,
        *,
        params: Mapping[str, str | int],
        headers: Mapping[str, str],
        timeout: httpx.Timeout,
    ) -> AbstractContextManager[httpx.Response]: ...


DELTA_EVENT = "codex.delta"
DELTAS_DROPPED_EVENT = "codex.deltas_dropped"


@dataclass(frozen=True)
class DeltasDropped:
    """The daemon stopped sending deltas to this too-slow client; durable events go on."""

    reason: str


# What following with deltas yields: durable events, live deltas, and the drop notice.
LiveItem = EventOut | Delta | DeltasDropped


class _StreamDropped(Exception):
    """The event stream broke in a way a reconnect may fix."""


def follow_events(
    daemon: StreamingDaemon,
    task_id: str,
    *,
    after: int = 0,
    until_terminal: bool = True,
    until_states: Collection[TaskState] = (),
    max_reconnects: int = MAX_RECONNECTS,
) -> Iterator[EventOut]:
    """The task's events after ``after``, live: :func:`follow_live` without deltas."""
    for item in follow_live(
        daemon,
        task_id,
        after=after,
        until_terminal=until_terminal,
        until_states=until_states,
        max_reconnects=max_reconnects,
        deltas=False,
    ):
        if isinstance(item, EventOut):
            yield item


def follow_live(
    daemon: StreamingDaemon,
    task_id: str,
    *,
    after: int = 0,
    until_terminal: bool = True,
    until_states: Collection[TaskState] = (),
    max_reconnects: int = MAX_RECONNECTS,
    deltas: bool = True,
) -> Iterator[LiveItem]:
    """The task's events after ``after``, live, over Server-Sent Events.

    A dropped connection is resumed with ``Last-Event-ID`` (at most ``max_reconnects``
    times in a row, with backoff; each received event resets the count). Events are
    yielded in order and never twice. With ``until_terminal`` the iterator ends once the
    task is in a terminal state, or in one of ``until_states`` (states that wait for a
    person, which the server does not end a stream on), and every event up to then was
    yielded. Raises :class:`DaemonLost` when the daemon stays unreachable.
    """
    last = after
    failures = 0
    while True:
        problem = "the daemon closed the event stream"
        clean = False
        stopped = False
        try:
            stream_once = _stream_once(daemon, task_id, last, until_terminal, deltas)
            with contextlib.closing(stream_once) as stream:
                for event in stream:
                    if not isinstance(event, EventOut):
                        yield event
                        continue
                    if event.seq <= last:
                        continue  # a resumed stream may repeat what we already have
                    last = event.seq
                    failures = 0
                    yield event
                    if until_terminal and _enters(event, until_states):
                        stopped = _settled_in(daemon, task_id, until_states)
                        if stopped:
                            break
            clean = True
        except _StreamDropped as exc:
            problem = str(exc)
        if not until_terminal and clean:
            return
        if until_terminal:
            # The stream ended: the task finished (the server closes it then), it waits
            # for a person, or the connection was lost. The task's state tells which.
            try:
                settled = stopped or _settled_in(daemon, task_id, until_states)
            except ClientError as exc:
                if exc.status is not None and exc.status < 500:
                    raise
                problem = str(exc)
            else:
                if settled:
                    for event in daemon.all_events(task_id, after=last):
                        last = event.seq
                        yield event
                    return
        failures += 1
        if failures > max_reconnects:
            raise DaemonLost(
                f"lost the daemon at {daemon.base_url} while following task {task_id} "
                f"({failures} failed attempts in a row: {problem})"
            )
        time.sleep(min(RECONNECT_MAX_DELAY_S, RECONNECT_BASE_DELAY_S * 2 ** (failures - 1)))


def _settled_in(daemon: StreamingDaemon, task_id: str, states: Collection[TaskState]) -> bool:
    """Whether the task is now terminal or in one of ``states``."""
    state = daemon.get_task(task_id).state
    return state.is_terminal or state in states


def _stream_once(
    daemon: StreamingDaemon, task_id: str, after: int, until_terminal: bool, deltas: bool
) -> Generator[LiveItem, None, None]:
    path = f"/v1/tasks/{quote(task_id, safe='')}/events/stream"
    params = {"after": after, "until_terminal": "true" if until_terminal else "false"}
    if deltas:
        params["deltas"] = "true"
    # Connection: close, so a stream's connection never goes back to the pool: after the
    # server ends a stream, the next call must not race the server closing that socket.
    headers = {"Accept": "text/event-stream", "Last-Event-ID": str(after), "Connection": "close"}
    try:
        with daemon.open_stream(
            path, params=params, headers=headers, timeout=STREAM_TIMEOUT
        ) as response:
            if response.status_code >= 500:
                response.read()
                raise _StreamDropped(error_message(response))
            if response.status_code >= 400:
                response.read()
                raise_for_status(response)
            for name, data in sse_messages(response.iter_lines()):
                try:
                    if name == DELTA_EVENT:
                        yield _delta(data)
                    elif name == DELTAS_DROPPED_EVENT:
                        yield DeltasDropped(str(json.loads(data).get("reason", "")))
                    else:
                        yield EventOut.model_validate_json(data)
                except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    why = first_error(exc) if isinstance(exc, ValidationError) else repr(exc)
                    raise ClientError(
                        f"the daemon at {daemon.base_url} sent an event this client cannot "
                        f"read ({why}); are the versions the same?"
                    ) from None
    except httpx.ConnectError:
        raise _StreamDropped(unreachable(daemon.base_url)) from None
    except httpx.TransportError as exc:
        raise _StreamDropped(f"{type(exc).__name__}: {exc}") from None


def _enters(event: EventOut, states: Collection[TaskState]) -> bool:
    """Whether ``event`` moves the task into one of ``states``."""
    return event.type in STATE_CHANGE_TYPES and event.data.get("to") in states


def _delta(data: str) -> Delta:
    fields = json.loads(data)
    return Delta(str(fields["item_id"]), DeltaKind(fields["kind"]), str(fields["text"]))


def sse_data(lines: Iterator[str]) -> Iterator[str]:
    """The ``data`` of each Server-Sent Event: :func:`sse_messages` without the names."""
    for _name, data in sse_messages(lines):
        yield data


def sse_messages(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """``(event name, data)`` of each Server-Sent Event (the name is ``message`` when the
    event names none); comments (keepalives) and other fields are skipped, multi-line data
    is joined with newlines."""
    data: list[str] = []
    name = "message"
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data)
            data = []
            name = "message"
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "data":
            data.append(value)
        elif field == "event":
            name = value
    # An event without its closing blank line was cut off; it is read again on resume.
