"""Co-authors: the author form, who asked for a task's work, and the map's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from codex_runner.domain.durable_event import NewEvent, TaskEvent
from codex_runner.domain.task import Task, WorkspaceRequest
from codex_runner.service.coauthors import (
    CoauthorNotFound,
    Coauthors,
    parse_author,
    requesters,
    with_trailers,
)
from codex_runner.service.errors import InvalidRequest
from codex_runner.store.coauthors import CoauthorSource
from codex_runner.store.memory import InMemoryStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def coauthors() -> Coauthors:
    return Coauthors(InMemoryStore(), clock=Clock())


def event(seq: int, type: str, **data: object) -> TaskEvent:
    return TaskEvent(task_id="t_1", seq=seq, type=type, data=dict(data), at=T0)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("Ann Lee <ann@example.com>", "Ann Lee <ann@example.com>"),
        ("  Ann   Lee<ann@example.com> ", "Ann   Lee <ann@example.com>"),
        ("Zoë Ö <zoe+git@mail.example.org>", "Zoë Ö <zoe+git@mail.example.org>"),
    ],
)
def test_an_author_in_the_git_form_is_taken_tidied(given: str, expected: str) -> None:
    assert parse_author(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("", "empty"),
        ("ann@example.com", "not a name and an <email>"),
        ("<ann@example.com>", "no name"),
        ("Ann <ann>", "not an email address"),
        ("Ann <ann@example.com> Lee", "not a name and an <email>"),
        ("Ann\nCo-authored-by: Eve <eve@example.com>", "line break"),
        ("A" * 300 + " <a@example.com>", "longer than"),
    ],
)
def test_a_malformed_author_is_refused_naming_the_problem_and_the_form(
    given: str, problem: str
) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_author(given)
    assert refused.value.field == "author"
    assert problem in str(refused.value) and "Name <email>" in str(refused.value)


def test_the_requesters_are_the_people_whose_messages_asked_distinct_in_first_order() -> None:
    events = [
        event(1, "task.created"),
        event(2, "slack.session_started", user="U2", channel="C1"),
        event(3, "slack.message_received", user="U2"),
        event(4, "slack.command", user="U9", command="status"),  # not a request for work
        event(5, "slack.message_queued", user="U8"),  # dropped with -stop: not asked yet
        event(6, "link.message_received", user="U2"),  # another chat: another person
        event(7, "slack.message_dispatched", user="U1"),
        event(8, "slack.message_received", user="U2"),
        event(9, "slack.session_started", replaces_task="t_0"),  # no user
    ]
    assert requesters(events) == [("slack", "U2"), ("link", "U2"), ("slack", "U1")]


def test_trailers_end_the_message_after_a_blank_line_and_nothing_changes_without() -> None:
    message = "Fix it\n\ncodex-runner task t_1, turn 1\n"
    assert with_trailers(message, []) == message
    assert with_trailers(message, ["Co-authored-by: A <a@x.example>"]) == (
        "Fix it\n\ncodex-runner task t_1, turn 1\n\nCo-authored-by: A <a@x.example>"
    )


async def test_an_inferred_author_never_replaces_a_manual_one(coauthors: Coauthors) -> None:
    inferred = await coauthors.infer("slack", "U1", display_name="Ann", email="ann@work.example")
    assert inferred is not None and inferred.author == "Ann <ann@work.example>"
    assert inferred.source is CoauthorSource.INFERRED
    await coauthors.set("slack", "U1", "Ann Lee <ann@home.example>")
    again = await coauthors.infer("slack", "U1", display_name="Ann", email="ann@work.example")
    assert again is not None and again.author == "Ann Lee <ann@home.example>"
    assert again.source is CoauthorSource.MANUAL and again.display_name == "Ann"


async def test_a_profile_without_a_usable_name_or_email_infers_nothing(
    coauthors: Coauthors,
) -> None:
    assert await coauthors.infer("slack", "U1", display_name="Ann", email="not-an-email") is None
    found = await coauthors.infer("slack", "U2", display_name="  ", email="bob@x.example")
    assert found is not None and found.author == "bob <bob@x.example>"


async def test_a_deleted_author_stays_off_until_set_again(coauthors: Coauthors) -> None:
    await coauthors.infer("slack", "U1", display_name="Ann", email="ann@x.example")
    await coauthors.delete("slack", "U1")
    assert await coauthors.entries() == []
    # Not inferred back on the next message, and not offered the form either.
    await coauthors.infer("slack", "U1", display_name="Ann", email="ann@x.example")
    assert await coauthors.entries() == []
    assert not await coauthors.offer_due("slack", "U1")
    with pytest.raises(CoauthorNotFound):
        await coauthors.delete("slack", "U1")
    await coauthors.set("slack", "U1", "Ann <ann@x.example>")
    assert [c.author for c in await coauthors.entries()] == ["Ann <ann@x.example>"]


async def test_a_person_without_an_author_is_offered_the_form_until_it_reached_them(
    coauthors: Coauthors,
) -> None:
    assert await coauthors.offer_due("slack", "U1")
    assert await coauthors.offer_due("slack", "U1")  # the offer did not reach them yet
    assert await coauthors.offered("slack", "U1")
    assert not await coauthors.offer_due("slack", "U1")
    assert not await coauthors.offered("slack", "U1")  # noted once
    await coauthors.infer("slack", "U2", display_name="Bob", email="bob@x.example")
    assert not await coauthors.offer_due("slack", "U2")  # has one already


async def test_a_bad_user_key_is_refused_naming_the_field(coauthors: Coauthors) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await coauthors.set("Slack Bridge", "U1", "Ann <a@x.example>")
    assert refused.value.field == "bridge"
    with pytest.raises(InvalidRequest) as refused:
        await coauthors.set("slack", "U 1", "Ann <a@x.example>")
    assert refused.value.field == "user"


async def test_a_tasks_trailers_credit_its_requesters_with_an_author_once_each() -> None:
    store = InMemoryStore()
    coauthors = Coauthors(store, clock=Clock())
    task = await _task(store)
    for user in ("U3", "U1", "U2", "U1"):
        await store.append_events(task, [_received(user)])
    await coauthors.set("slack", "U1", "Ann <ann@x.example>")
    await coauthors.infer("slack", "U2", display_name="Bob", email="bob@x.example")
    await coauthors.set("link", "U2", "Ann <ann@x.example>")  # the same person in two chats
    await store.append_events(task, [_received("U2", bridge="link")])
    assert await coauthors.trailers(task) == [
        "Co-authored-by: Ann <ann@x.example>",
        "Co-authored-by: Bob <bob@x.example>",
    ]


async def test_a_fresh_task_for_the_thread_credits_who_asked_its_earlier_tasks_too() -> None:
    store = InMemoryStore()
    coauthors = Coauthors(store, clock=Clock())
    await coauthors.set("slack", "U1", "Ann <ann@x.example>")
    await coauthors.set("slack", "U2", "Bob <bob@x.example>")
    failed = await _task(store, "t_0")
    await store.append_events(failed, [_received("U1")])
    fresh = await _task(store, "t_1")
    started = NewEvent("slack.session_started", T0, {"replaces_task": failed})
    await store.append_events(fresh, [started, _received("U2"), _received("U1")])
    assert await coauthors.trailers(fresh) == [
        "Co-authored-by: Ann <ann@x.example>",
        "Co-authored-by: Bob <bob@x.example>",
    ]


async def test_trailers_are_none_when_the_store_fails(coauthors: Coauthors) -> None:
    assert await coauthors.trailers("t_missing") == []


async def _task(store: InMemoryStore, task_id: str = "t_1") -> str:
    workspace = WorkspaceRequest.directory("/tmp")
    await store.create_task(Task(task_id, "p", workspace, created_at=T0, updated_at=T0))
    return task_id


def _received(user: str, *, bridge: str = "slack") -> NewEvent:
    return NewEvent(f"{bridge}.message_received", T0, {"user": user, "ts": "1.0"})
