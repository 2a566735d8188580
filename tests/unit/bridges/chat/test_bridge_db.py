from __future__ import annotations

from pathlib import Path

from codex_runner.bridges.chat.bridge_db import BridgeDb, Post, Session


def post(lane: str, text: str, op: str = "post", **payload: object) -> Post:
    return Post(lane=lane, channel="C1", thread="1.1", op=op, payload={"text": text, **payload})


def test_queue_seen_ids_and_outbox_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "slack.sqlite"
    db = BridgeDb(path)
    db.add_session(Session("k", "C1", "1.1", "t1", "U1"))
    assert db.first_sighting("event:E1", "message:C1:1.2")
    assert db.enqueue_message("k", "U1", "1.3", "first", ["/a.png"]) == 1
    assert db.enqueue_message("k", "U2", "1.4", "second", []) == 2
    db.enqueue_posts([post("k", "a"), post("k", "b")])
    db.close()

    db = BridgeDb(path)
    assert not db.first_sighting("event:E1")  # a retry of the same event
    assert not db.first_sighting("event:E9", "message:C1:1.2")  # same message, other event
    queued = db.next_queued("k")
    assert queued is not None and (queued.text, queued.images) == ("first", ("/a.png",))
    db.remove_queued(queued.id)
    assert db.next_queued("k").text == "second"  # type: ignore[union-attr]
    assert [e.post.payload["text"] for e in db.outbox_heads()] == ["a"]
    assert db.session("k") == Session("k", "C1", "1.1", "t1", "U1")
    db.close()


def test_outbox_heads_are_one_per_lane_in_order(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "s.sqlite")
    db.enqueue_posts([post("x", "x1"), post("y", "y1"), post("x", "x2")])
    heads = db.outbox_heads()
    assert [(h.post.lane, h.post.payload["text"]) for h in heads] == [("x", "x1"), ("y", "y1")]
    db.delivered(heads[0], "9.9")
    assert [h.post.payload["text"] for h in db.outbox_heads()] == ["y1", "x2"]


def test_a_newer_edit_supersedes_an_unsent_one_and_refs_are_remembered(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "s.sqlite")
    db.enqueue_posts([post("x", "status", ref="status:1")])
    head = db.outbox_heads()[0]
    db.mark_attempt(head.id)
    db.delivered(head, "5.5")
    assert db.message_id("x", "status:1") == "5.5"
    db.enqueue_posts([post("x", "running a", "update", ref="status:1")])
    db.enqueue_posts([post("x", "running b", "update", ref="status:1")])
    assert db.outbox_size() == 1 and db.outbox_heads()[0].post.payload["text"] == "running b"
    db.mark_attempt(db.outbox_heads()[0].id)  # in flight: no longer replaceable
    db.enqueue_posts([post("x", "done", "update", ref="status:1")])
    assert db.outbox_size() == 2


def test_relay_moves_the_cursor_with_the_posts(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "s.sqlite")
    db.add_session(Session("k", "C1", "1.1", "t1", "U1"))
    db.relay("k", [post("k", "hi")], cursor=7, status_ref="status:3")
    session = db.session("k")
    assert session is not None and (session.event_cursor, session.status_ref) == (7, "status:3")
    db.replace_task("k", "t2")
    assert db.session_by_task("t2") == Session("k", "C1", "1.1", "t2", "U1")
    assert db.clear_queue("k") == 0


def test_queued_count_adds_up_every_sessions_queue(tmp_path: Path) -> None:
    db = BridgeDb(tmp_path / "slack.sqlite")
    assert db.queued_count() == 0
    db.add_session(Session("k", "C1", "1.1", "t1", "U1"))
    db.add_session(Session("j", "C1", "2.1", "t2", "U1"))
    db.enqueue_message("k", "U1", "1.3", "first", [])
    db.enqueue_message("j", "U1", "2.3", "other", [])
    db.enqueue_message("k", "U2", "1.4", "second", [])
    assert db.queued_count() == 3
    db.clear_queue("k")
    assert db.queued_count() == 1
    db.close()
