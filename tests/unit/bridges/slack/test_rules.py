from __future__ import annotations

import pytest

from codex_runner.bridges.slack import rules
from codex_runner.bridges.slack.rules import (
    AccessPolicy,
    Command,
    Delivery,
    IncomingMessage,
    Route,
)
from codex_runner.domain.task import TaskState

BOT = "UBOT"


def msg(text: str, **kw: object) -> IncomingMessage:
    fields: dict[str, object] = {"channel": "C1", "ts": "100.000002", "user": "U1", "text": text}
    fields.update(kw)
    return IncomingMessage(**fields)  # type: ignore[arg-type]


def test_parse_keeps_people_and_drops_bots_edits_and_the_bot_itself() -> None:
    base = {"type": "message", "channel": "C1", "user": "U1", "text": "hi", "ts": "1.000001"}
    assert rules.parse_message_event(base, BOT) == IncomingMessage("C1", "1.000001", "U1", "hi")
    assert rules.parse_message_event({**base, "bot_id": "B1"}, BOT) is None
    assert rules.parse_message_event({**base, "subtype": "message_changed"}, BOT) is None
    assert rules.parse_message_event({**base, "user": BOT}, BOT) is None
    dm = rules.parse_message_event({**base, "channel_type": "im", "thread_ts": "0.1"}, BOT)
    assert dm is not None and dm.is_dm and dm.root_ts == "0.1" and dm.is_thread_reply
    shared = rules.parse_message_event(
        {
            **base,
            "subtype": "file_share",
            "files": [{"id": "F1", "name": "a.png", "mimetype": "image/png", "url_private": "u"}],
        },
        BOT,
    )
    assert shared is not None and [f.id for f in shared.images] == ["F1"]


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("-stop", Command.STOP),
        ("stop", Command.STOP),
        (" Stop! ", Command.STOP),
        ("-status", Command.STATUS),
        ("stop the build", None),
        ("status", None),
    ],
)
def test_commands(text: str, command: Command | None) -> None:
    assert rules.parse_command(text) is command


def test_routes() -> None:
    everyone = AccessPolicy()
    r = rules.route
    assert r(msg("hi"), bot_user_id=BOT, has_session=False, access=everyone) is Route.IGNORE
    assert (
        r(msg(f"<@{BOT}> hi"), bot_user_id=BOT, has_session=False, access=everyone) is Route.START
    )
    assert r(msg(f"<@{BOT}>"), bot_user_id=BOT, has_session=False, access=everyone) is Route.IGNORE
    assert (
        r(msg("hi", is_dm=True), bot_user_id=BOT, has_session=False, access=everyone) is Route.START
    )
    assert r(msg("more"), bot_user_id=BOT, has_session=True, access=everyone) is Route.CONTINUE
    assert r(msg("-stop"), bot_user_id=BOT, has_session=True, access=everyone) is Route.STOP
    assert (
        r(msg(f"<@{BOT}> -status"), bot_user_id=BOT, has_session=True, access=everyone)
        is Route.STATUS
    )
    only_bob = AccessPolicy(allowed_users=frozenset({"U2"}))
    assert (
        r(msg(f"<@{BOT}> hi"), bot_user_id=BOT, has_session=False, access=only_bob) is Route.REFUSE
    )
    assert r(msg("chatter"), bot_user_id=BOT, has_session=False, access=only_bob) is Route.IGNORE
    assert r(msg("more"), bot_user_id=BOT, has_session=True, access=only_bob) is Route.REFUSE
    other_channel = AccessPolicy(allowed_channels=frozenset({"C9"}))
    assert (
        r(msg(f"<@{BOT}> hi"), bot_user_id=BOT, has_session=False, access=other_channel)
        is Route.REFUSE
    )


def test_access_policy_empty_means_everyone() -> None:
    assert AccessPolicy().allows("anyone", "anywhere")
    policy = AccessPolicy(frozenset({"U1"}), frozenset({"C1"}))
    assert policy.allows("U1", "C1")
    assert not policy.allows("U1", "C2") and not policy.allows("U2", "C1")


def test_approvers_default_to_the_requester() -> None:
    assert rules.may_decide("U1", approvers=(), requester="U1")
    assert not rules.may_decide("U2", approvers=(), requester="U1")
    assert rules.may_decide("U2", approvers={"U2"}, requester="U1")
    assert not rules.may_decide("U1", approvers={"U2"}, requester="U1")


@pytest.mark.parametrize(
    ("state", "depth", "delivery"),
    [
        (TaskState.COMPLETED, 0, Delivery.NOW),
        (TaskState.INTERRUPTED, 0, Delivery.NOW),
        (TaskState.COMPLETED, 1, Delivery.QUEUE),  # others wait first: keep the order
        (TaskState.RUNNING, 0, Delivery.QUEUE),
        (TaskState.AWAITING_APPROVAL, 0, Delivery.QUEUE),
        (TaskState.QUEUED, 0, Delivery.QUEUE),
        (TaskState.FAILED, 0, Delivery.NEW_TASK),
        (TaskState.CANCELLED, 2, Delivery.QUEUE),
    ],
)
def test_delivery_plan(state: TaskState, depth: int, delivery: Delivery) -> None:
    assert rules.plan_delivery(state, depth) is delivery


def test_session_key_is_a_safe_directory_name() -> None:
    assert rules.session_key("C1", "1700000000.000100") == "C1-1700000000_000100"
    assert "/" not in rules.session_key("../x", "1.2")


def test_backfill_takes_the_last_messages_before_the_mention_with_names() -> None:
    thread = [
        {"ts": "1.000001", "user": "U2", "text": "root"},
        {"ts": "2.000001", "user": "U3", "text": "second"},
        {"ts": "3.000001", "user": "U3", "text": "third <@U2>"},
        {"ts": "4.000001", "user": "U1", "text": "<@UBOT> help"},
        {"ts": "5.000001", "user": "U2", "text": "after"},
    ]
    names = {"U2": "Bob", "U3": "Cid"}
    lines = rules.backfill_lines(thread, before_ts="4.000001", limit=2, names=names)
    assert lines == ["Cid: second", "Cid: third @Bob"]
    assert rules.backfill_lines(thread, before_ts="4.000001", limit=0, names=names) == []


def test_ts_order_is_exact() -> None:
    assert rules.ts_key("1700000000.000009") < rules.ts_key("1700000000.000010")
