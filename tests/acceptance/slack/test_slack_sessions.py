"""The Slack bridge end to end: fake Slack, real slack_bolt, real codex, scripted model."""

from __future__ import annotations

import json

import pytest

from codex_runner.domain.task import TaskState

from .conftest import Factory
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"
MENTION = f"<@{BOT_USER_ID}>"


async def test_a_mention_starts_a_session_and_the_reply_lands_in_the_thread(
    harness: Factory,
) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"{MENTION} hello")
        ts = root["ts"]
        posts = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if "Hi there" in t]
        )
        assert posts == ["Hi there, *friend*"]  # Markdown became mrkdwn
        task = await h.task_of(C, ts)
        await h.wait_state(task.id, TaskState.COMPLETED)
        status = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if "Done" in t]
        )
        assert len(status) == 1  # one status message, edited in place
        workspace = h.home / "sessions" / f"{C}-{ts.replace('.', '_')}" / "workspace"
        assert task.workspace.cwd == str(workspace) and workspace.is_dir()
        creds = workspace.parent / "session.json"
        assert creds.stat().st_mode & 0o777 == 0o600
        assert str(creds) in task.prompt and "daemon-api-token" not in task.prompt
        assert "Ann: hello" in task.prompt
        await h.bridge.outbox.wait_idle(10)  # type: ignore[union-attr]
        types = [e.type for e in await h.store.read_events(task.id)]
        assert "slack.session_started" in types and "slack.message_received" in types
        assert "slack.delivered" in types


async def test_a_follow_up_continues_the_same_codex_thread(harness: Factory) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"{MENTION} hello")
        ts = root["ts"]
        task = await h.task_of(C, ts)
        first = await h.wait_state(task.id, TaskState.COMPLETED)
        # A settled session holds no follower (sessions are kept for good)...
        await h.bridge.wait_relay_idle(10)
        await h.slack.say(C, "U1", "what did I say", thread_ts=ts)  # no mention needed
        echo = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if t.startswith("echo:")]
        )
        assert "hello" in echo[0].split("earlier:", 1)[1]  # the model saw the first turn
        second = await h.wait_state(task.id, TaskState.COMPLETED)
        assert second.thread_id == first.thread_id
        threads = {r.headers.get("thread-id") for r in h.model.requests}
        assert len(threads) == 1
        # ...the follow-up was followed again from the cursor, and let go once it settled.
        await h.bridge.wait_relay_idle(10)


async def test_a_first_mention_in_a_human_thread_backfills_earlier_messages(
    harness: Factory,
) -> None:
    async with harness(slack={"backfill_messages": 2}) as h:
        root = h.slack.add_message(C, "U2", "the build is broken on main")
        ts = root["ts"]
        h.slack.add_message(C, "U3", "too old to matter? no: first reply", thread_ts=ts)
        h.slack.add_message(C, "U3", "stack trace says KeyError, cc <@U1>", thread_ts=ts)
        await h.slack.say(C, "U1", f"{MENTION} what did I say", thread_ts=ts)
        echo = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if t.startswith("echo:")]
        )
        task = await h.task_of(C, ts)
        # Only the last two earlier messages, with display names.
        assert "Cid: too old to matter? no: first reply" in task.prompt
        assert "Cid: stack trace says KeyError, cc @Ann" in task.prompt
        assert "the build is broken" not in task.prompt
        assert "stack trace says KeyError" in echo[0]


async def test_messages_sent_while_a_turn_runs_are_queued_and_run_in_order(
    harness: Factory,
) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"{MENTION} wait for go")
        ts = root["ts"]
        task = await h.task_of(C, ts)
        await h.wait_state(task.id, TaskState.RUNNING)
        await h.model.wait_for_requests(1, timeout=30)
        first = await h.slack.say(C, "U1", "hello again", thread_ts=ts)
        second = await h.slack.say(C, "U2", "what did I say", thread_ts=ts)
        await h.slack.wait_for(lambda: len(h.slack.reactions) >= 2)
        assert [(r.ts, r.name) for r in h.slack.reactions] == [
            (first["ts"], "hourglass_flowing_sand"),
            (second["ts"], "hourglass_flowing_sand"),
        ]
        assert (await h.service.get(task.id)).state is TaskState.RUNNING
        (h.home / "sessions" / f"{C}-{ts.replace('.', '_')}" / "workspace" / "go").touch()
        echo = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if t.startswith("echo:")]
        )
        assert "hello again" in echo[0]  # the queued message ran before this one
        texts = h.slack.bot_texts(C, ts)
        released = texts.index("released")
        hi = next(i for i, t in enumerate(texts) if t.startswith("Hi there"))
        assert released < hi < texts.index(echo[0])
        events = [e.type for e in await h.store.read_events(task.id)]
        assert events.count("slack.message_queued") == 2
        assert events.count("slack.message_dispatched") == 2


async def test_stop_interrupts_the_running_turn(harness: Factory) -> None:
    async with harness() as h:
        root = await h.slack.say(C, "U1", f"{MENTION} hang forever")
        ts = root["ts"]
        task = await h.task_of(C, ts)
        await h.wait_state(task.id, TaskState.RUNNING)
        await h.model.wait_for_requests(1, timeout=30)
        await h.slack.say(C, "U1", "-stop", thread_ts=ts)
        stopped = await h.wait_state(task.id, TaskState.INTERRUPTED)
        assert stopped.thread_id is not None
        await h.slack.wait_for(lambda: "Stopping the current turn." in h.slack.bot_texts(C, ts))
        await h.slack.wait_for(lambda: [t for t in h.slack.bot_texts(C, ts) if "Stopped" in t])
        await h.slack.say(C, "U1", "-status", thread_ts=ts)
        status = await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if t.startswith("State:")]
        )
        assert "interrupted" in status[0] and "queued messages: 0" in status[0]


async def test_approval_buttons_refuse_others_and_take_the_requesters_decision(
    harness: Factory,
) -> None:
    async with harness(approval_policy="untrusted") as h:
        root = await h.slack.say(C, "U1", f"{MENTION} touch approved")
        ts = root["ts"]
        request = await h.slack.wait_for(
            lambda: [m for m in h.slack.bot_posts(C, ts) if m.get("blocks")]
        )
        message = request[0]
        buttons = [
            e["action_id"]
            for b in message["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
        ]
        task = await h.task_of(C, ts)
        pending = await h.store.list_pending_approvals(task_id=task.id)
        offered = pending[0].available_decisions
        assert buttons == [f"approval:{d}" for d in offered]  # only what Codex offered
        assert "touch approved.txt" in json.dumps(message["blocks"])
        assert message["text"].startswith("<@U1> ")  # the thread's author is mentioned

        ack = await h.slack.click("U2", C, message, "approval:accept")
        assert ack["envelope_id"]
        await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, ts) if t.startswith("Sorry <@U2>")]
        )
        assert (await h.service.get(task.id)).state is TaskState.AWAITING_APPROVAL

        await h.slack.click("U1", C, message, "approval:accept")
        await h.wait_state(task.id, TaskState.COMPLETED)
        decided = await h.slack.wait_for(
            lambda: [m for m in h.slack.bot_posts(C, ts) if "decided by Ann" in m["text"]]
        )
        assert decided[0]["ts"] == message["ts"]  # the request itself was updated
        assert not any(b["type"] == "actions" for b in decided[0]["blocks"])
        workspace = h.home / "sessions" / f"{C}-{ts.replace('.', '_')}" / "workspace"
        assert (workspace / "approved.txt").exists()
        approval = await h.store.get_approval(pending[0].id)
        assert approval is not None and approval.decided_by == "slack:U1"
        outcomes = [
            e.data["outcome"]
            for e in await h.store.read_events(task.id)
            if e.type == "slack.approval_action"
        ]
        assert outcomes == ["refused", "decided"]


async def test_an_event_delivered_twice_runs_once(harness: Factory) -> None:
    async with harness() as h:
        message = h.slack.add_message(C, "U1", f"{MENTION} hello")
        event = {**message, "channel": C, "channel_type": "channel", "event_ts": message["ts"]}
        await h.slack.send_event({**event, "type": "app_mention"}, event_id="EvONE")
        await h.slack.send_event(
            {**event, "type": "app_mention"}, event_id="EvONE", retry_attempt=1
        )
        await h.slack.send_event(event, event_id="EvTWO")  # the same message as a message event
        task = await h.task_of(C, message["ts"])
        await h.wait_state(task.id, TaskState.COMPLETED)
        # A later message proves the duplicates were handled (events are handled in order).
        await h.slack.say(C, "U1", "what did I say", thread_ts=message["ts"])
        await h.slack.wait_for(
            lambda: [t for t in h.slack.bot_texts(C, message["ts"]) if t.startswith("echo:")]
        )
        hellos = [r for r in h.model.requests if r.last_user_text and "hello" in r.last_user_text]
        assert len(hellos) == 1
        assert len(await h.store.list_tasks()) == 1
        assert len([t for t in h.slack.bot_texts(C, message["ts"]) if "Hi there" in t]) == 1


async def test_slack_down_then_back_loses_no_message(harness: Factory) -> None:
    async with harness() as h:
        h.slack.down_methods = {"chat.postMessage", "chat.update"}
        root = await h.slack.say(C, "U1", f"{MENTION} hello")
        ts = root["ts"]
        await h.slack.wait_for(lambda: len(h.slack.calls_of("chat.postMessage")) >= 3)
        session = h.bridge.session_for(C, ts)
        assert session is not None
        await h.wait_state(session.task_id, TaskState.COMPLETED)
        assert h.slack.bot_posts(C, ts) == []
        h.slack.down_methods = set()
        await h.slack.wait_for(lambda: [t for t in h.slack.bot_texts(C, ts) if "Done" in t])
        texts = h.slack.bot_texts(C, ts)
        assert len(texts) == 2 and texts[1] == "Hi there, *friend*"  # in order, none twice
        await h.bridge.outbox.wait_idle(10)  # type: ignore[union-attr]
        types = [e.type for e in await h.store.read_events(session.task_id)]
        assert "slack.delivery_retry" in types
