"""Co-authors: who a task's commits credit, and each chat user's git author (docs/coauthors.md).

The people who asked for a task's work are those whose chat messages its event log records
(``<bridge>.session_started``, ``<bridge>.message_received``, ``<bridge>.message_dispatched``,
each with its ``user``), and those of the task it replaced in the same chat thread (a fresh
task after a failed one, ``replaces_task``); a task's commit carries one ``Co-authored-by:``
trailer for each of them that has an author, distinct, in the order they first wrote.

An author is inferred from the chat profile's email (with the display name as its name)
until a person sets one (the panel, the API, the chat's form): a manual entry is never
replaced by an inferred one. Deleting an entry leaves a manual "no author", so it is not
inferred back on the person's next message and they are not asked again; setting one again
undoes it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from codex_runner.domain.durable_event import TaskEvent
from codex_runner.service.errors import InvalidRequest
from codex_runner.store.coauthors import Coauthor, CoauthorSource
from codex_runner.store.protocol import DEFAULT_EVENT_PAGE, Store

log = logging.getLogger(__name__)

TRAILER = "Co-authored-by"
MAX_AUTHOR_CHARS = 256
# How many pages of a task's events are read for its requesters (a bound, not a rule).
MAX_EVENT_PAGES = 200
MAX_REPLACED_TASKS = 20  # how far back a chat thread's earlier tasks are followed
REQUEST_EVENTS = frozenset({"session_started", "message_received", "message_dispatched"})
_AUTHOR = re.compile(r"(?P<name>[^<>]*?)\s*<(?P<email>[^<>]*)>")
_EMAIL = re.compile(r"[^\s@<>]+@[^\s@<>]+")
# A task id -> the trailers of its commit (Coauthors.trailers).
CommitTrailers = Callable[[str], Awaitable[Sequence[str]]]
_FORM = 'write it as "Name <email>", e.g. "Ann Lee <ann@example.com>"'


class CoauthorNotFound(LookupError):
    def __init__(self, bridge: str, user: str) -> None:
        super().__init__(f"no co-author for {bridge} user {user!r}")


def parse_author(text: str) -> str:
    """``text`` as a git author ``Name <email>``; InvalidRequest naming what is wrong."""
    given = text.strip()
    if not given:
        raise InvalidRequest("author", f"the author is empty: {_FORM}")
    if len(given) > MAX_AUTHOR_CHARS:
        too_long = f"the author is longer than {MAX_AUTHOR_CHARS} characters"
        raise InvalidRequest("author", f"{too_long}: {_FORM}")
    if any(ord(c) < 32 or c == "\x7f" for c in given):
        # A line break would end the trailer and let the rest pose as another one.
        raise InvalidRequest("author", f"the author has a line break or control character: {_FORM}")
    found = _AUTHOR.fullmatch(given)
    if found is None:
        raise InvalidRequest("author", f"{given!r} is not a name and an <email>: {_FORM}")
    name, email = found["name"].strip(), found["email"].strip()
    if not name:
        raise InvalidRequest("author", f"{given!r} has no name before the <email>: {_FORM}")
    if not _EMAIL.fullmatch(email):
        raise InvalidRequest("author", f"{email!r} in {given!r} is not an email address: {_FORM}")
    return f"{name} <{email}>"


def check_user(bridge: str, user: str) -> None:
    """A chat user's key: a bridge's one-word name and the user's id in that chat."""
    if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", bridge):
        raise InvalidRequest("bridge", f"{bridge!r} is not a bridge's name (e.g. slack)")
    if not user or len(user) > 128 or any(c.isspace() or c == "/" for c in user):
        raise InvalidRequest("user", f"{user!r} is not a chat user's id (e.g. U012ABC)")


def requesters(events: Sequence[TaskEvent]) -> list[tuple[str, str]]:
    """The chat users who asked for work in these events, distinct, by first message."""
    found: dict[tuple[str, str], None] = {}
    for event in events:
        bridge, dot, what = event.type.partition(".")
        user = event.data.get("user")
        if dot and what in REQUEST_EVENTS and isinstance(user, str) and user:
            found.setdefault((bridge, user))
    return list(found)


def replaced_task(events: Sequence[TaskEvent]) -> str | None:
    """The task of the same chat thread these events' task replaced, if any."""
    for event in events:
        older = event.data.get("replaces_task")
        if event.type.endswith(".session_started") and isinstance(older, str) and older:
            return older
    return None


def with_trailers(message: str, trailers: Sequence[str]) -> str:
    """The commit message with ``trailers`` as its last paragraph (git reads them there)."""
    if not trailers:
        return message
    return message.rstrip() + "\n\n" + "\n".join(trailers)


async def no_coauthors(task_id: str) -> list[str]:
    """A task's trailers where nobody is credited (no co-author map)."""
    return []


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Coauthors:
    """The co-author map over the store, and the trailers of a task's commits."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._store = store
        self._clock = clock

    async def entries(self) -> list[Coauthor]:
        """Every entry with an author, by bridge and user."""
        return [c for c in await self._store.list_coauthors() if c.author is not None]

    async def entry(self, bridge: str, user: str) -> Coauthor | None:
        """The user's row (maybe without an author), None when there is none."""
        return await self._store.coauthor(bridge, user)

    async def set(self, bridge: str, user: str, author: str, *, display_name: str = "") -> Coauthor:
        """A person sets the user's author: a manual entry, which inference leaves alone."""
        check_user(bridge, user)
        old = await self._store.coauthor(bridge, user)
        name = display_name.strip() or (old.display_name if old is not None else "")
        entry = Coauthor(
            bridge, user, parse_author(author), CoauthorSource.MANUAL, self._clock(), name
        )
        await self._store.put_coauthor(entry)
        return await self._stored(entry)

    async def delete(self, bridge: str, user: str) -> None:
        """Remove the user's author (CoauthorNotFound without one); stays off, see above."""
        old = await self._store.coauthor(bridge, user)
        if old is None or old.author is None:
            raise CoauthorNotFound(bridge, user)
        gone = Coauthor(bridge, user, None, CoauthorSource.MANUAL, self._clock(), old.display_name)
        await self._store.put_coauthor(gone)

    async def infer(
        self, bridge: str, user: str, *, display_name: str, email: str
    ) -> Coauthor | None:
        """The user's author from their chat profile, unless a person set one (or the
        profile's name and email do not make an author); the entry as it is now."""
        name = " ".join(display_name.split()) or email.partition("@")[0]
        try:
            author = parse_author(f"{name} <{email.strip()}>")
        except InvalidRequest as exc:
            log.info("no co-author inferred for %s user %s: %s", bridge, user, exc)
            return await self._store.coauthor(bridge, user)
        entry = Coauthor(bridge, user, author, CoauthorSource.INFERRED, self._clock(), name)
        await self._store.put_coauthor(entry, over_manual=False)
        return await self._store.coauthor(bridge, user)

    async def offer_due(self, bridge: str, user: str) -> bool:
        """Whether to offer the user to set their author: never when they have one, were
        given none by hand, or were offered before (:meth:`offered`)."""
        entry = await self._store.coauthor(bridge, user)
        return entry is None or (entry.source is None and entry.offered_at is None)

    async def offered(self, bridge: str, user: str) -> bool:
        """Note that the offer reached the user, once: False when another got there first
        (it is noted after the offer is made, so one that failed is made again)."""
        return await self._store.mark_coauthor_offered(bridge, user, self._clock())

    async def trailers(self, task_id: str) -> list[str]:
        """The ``Co-authored-by:`` lines for the task's commit. Never raises: a store that
        fails leaves the commit without them (logged), not the work uncommitted."""
        try:
            people = requesters(await self._thread_events(task_id))
            entries = [await self._store.coauthor(bridge, user) for bridge, user in people]
        except Exception as exc:  # the commit goes on without them
            log.warning("task %s: its co-authors could not be read: %s", task_id, exc)
            return []
        authors = dict.fromkeys(e.author for e in entries if e is not None and e.author)
        return [f"{TRAILER}: {author}" for author in authors if author]

    async def _thread_events(self, task_id: str) -> list[TaskEvent]:
        """The task's events after those of the tasks it replaced, oldest first."""
        tasks: list[list[TaskEvent]] = []
        seen: set[str] = set()
        current: str | None = task_id
        while current is not None and current not in seen and len(tasks) < MAX_REPLACED_TASKS:
            seen.add(current)
            tasks.append(await self._events(current))
            current = replaced_task(tasks[-1])
        return [event for events in reversed(tasks) for event in events]

    async def _events(self, task_id: str) -> list[TaskEvent]:
        events: list[TaskEvent] = []
        for _ in range(MAX_EVENT_PAGES):
            after = events[-1].seq if events else 0
            page = await self._store.read_events(task_id, after_seq=after)
            events.extend(page)
            if len(page) < DEFAULT_EVENT_PAGE:
                break
        return events

    async def _stored(self, entry: Coauthor) -> Coauthor:
        return await self._store.coauthor(entry.bridge, entry.user) or entry
