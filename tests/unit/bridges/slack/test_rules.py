from __future__ import annotations

from codex_runner.bridges.chat.rules import AccessPolicy
from codex_runner.bridges.slack import rules
from codex_runner.bridges.slack.rules import IncomingMessage, Route

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
