"""Racing requests: one idempotency key submitted at once, one approval decided at once
(from the API, the admin page and Slack's buttons)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..acceptance.daemon.harness import TERMINAL, all_events, wait_state
from ..acceptance.slack.fake_slack import BOT_USER_ID, FakeSlack
from .admin_session import admin_page_client
from .conftest import StartDaemon, slack_settings
from .invariants import assert_no_run_files, assert_nothing_lost

pytestmark = pytest.mark.acceptance

RACERS = 50
DECIDERS_PER_DECISION = 5  # per way of deciding and per decision
CHANNEL = "C0GENERAL"
REQUESTER = "U1"  # who started the Slack session, so the one who may press its buttons
SLACK_OUTCOMES_TIMEOUT_S = 30.0


async def test_racing_submits_with_one_idempotency_key_create_exactly_one_task(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon()
    body = {"prompt": "quick", "cwd": str(repo), "idempotency_key": "race-1"}
    async with daemon.client() as client:
        responses = await asyncio.gather(
            *(client.post("/v1/tasks", json=body) for _ in range(RACERS))
        )
        codes = sorted(response.status_code for response in responses)
        assert codes == [200] * (RACERS - 1) + [201], codes
        ids = {response.json()["id"] for response in responses}
        assert len(ids) == 1, ids
        listed = (await client.get("/v1/tasks")).json()["tasks"]
        assert [task["id"] for task in listed] == list(ids)
        (task_id,) = ids
        assert (await wait_state(client, task_id, TERMINAL))["state"] == "completed"
        events = (await assert_nothing_lost(client, [task_id]))[task_id]
        assert [event["type"] for event in events].count("task.created") == 1
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_racing_decisions_from_the_api_and_the_admin_page_answer_codex_once(
    start_daemon: StartDaemon, repo: Path
) -> None:
    daemon = await start_daemon(codex={"approval_policy": "untrusted"})
    token = (daemon.home / "api-token").read_text().strip()
    async with daemon.client() as api, admin_page_client(daemon.url, token) as page:
        task = (
            await api.post("/v1/tasks", json={"prompt": "touch approved", "repo": str(repo)})
        ).json()
        await wait_state(api, task["id"], {"awaiting_approval"})
        (approval,) = (await api.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
        route = f"/v1/approvals/{approval['id']}"
        # The refusal first (the Slack race below sends approve first): together the two
        # races see both a command refused and one run, whoever wins each.
        racers = [
            (client, decision, by)
            for _ in range(DECIDERS_PER_DECISION)
            for decision in reversed(raced_decisions(approval))
            for client, by in ((api, "api"), (page, "page"))
        ]
        responses = await asyncio.gather(
            *(client.post(route, json={"decision": d, "by": by}) for client, d, by in racers)
        )
        codes = sorted(response.status_code for response in responses)
        assert codes == [200] + [409] * (len(racers) - 1), [r.text for r in responses]
        (winner,) = [
            racer
            for racer, response in zip(racers, responses, strict=True)
            if response.status_code == 200
        ]
        workspace = daemon.home / "worktrees" / task["id"]
        await assert_codex_answered(api, task["id"], workspace, (winner[2], winner[1]))
    daemon.stop()
    assert_no_run_files(daemon.home)


async def test_racing_decisions_from_the_api_the_admin_page_and_slack_answer_codex_once(
    start_daemon: StartDaemon, fake_slack: FakeSlack
) -> None:
    daemon = await start_daemon(
        codex={"approval_policy": "untrusted"}, slack=slack_settings(fake_slack)
    )
    token = (daemon.home / "api-token").read_text().strip()
    async with daemon.client() as api, admin_page_client(daemon.url, token) as page:
        root = await fake_slack.say(CHANNEL, REQUESTER, f"<@{BOT_USER_ID}> touch approved")
        thread = root["ts"]
        (request,) = await fake_slack.wait_for(
            lambda: [m for m in fake_slack.bot_posts(CHANNEL, thread) if has_buttons(m)]
        )
        (approval,) = (await api.get("/v1/approvals", params={"state": "pending"})).json()[
            "approvals"
        ]
        task_id = approval["task_id"]
        route = f"/v1/approvals/{approval['id']}"
        decisions = raced_decisions(approval)
        posts = [
            (client, decision, by)
            for _ in range(DECIDERS_PER_DECISION)
            for decision in decisions
            for client, by in ((api, "api"), (page, "page"))
        ]
        clicks = [d for _ in range(DECIDERS_PER_DECISION) for d in decisions]
        responses, _ = await asyncio.gather(
            asyncio.gather(
                *(client.post(route, json={"decision": d, "by": by}) for client, d, by in posts)
            ),
            asyncio.gather(
                *(fake_slack.click(REQUESTER, CHANNEL, request, f"approval:{d}") for d in clicks)
            ),
        )
        # A click is acknowledged first and handled after: wait for every click's outcome.
        actions = await slack_approval_actions(api, task_id, len(clicks))
        taken_by_slack = [a for a in actions if a["outcome"] == "decided"]
        taken_by_http = [r for r in responses if r.status_code == 200]
        assert len(taken_by_slack) + len(taken_by_http) == 1, (
            [r.text for r in responses],
            actions,
        )
        refused = [r for r in responses if r.status_code != 200]
        assert all(r.status_code == 409 for r in refused), [r.text for r in refused]
        assert {r.json()["error"]["code"] for r in refused} <= {"approval_settled"}
        told = [a for a in actions if a["outcome"] != "decided"]
        assert all(a["outcome"] == "rejected" and "already decided" in a["error"] for a in told), (
            told
        )
        if taken_by_slack:
            winner = (f"slack:{REQUESTER}", taken_by_slack[0]["decision"])
        else:
            body = taken_by_http[0].json()
            winner = (body["decided_by"], body["decision"])
        await assert_codex_answered(api, task_id, Path(approval["cwd"]), winner)

        # Slack shows the one decision: the request loses its buttons, each loser is told.
        await fake_slack.wait_for(
            lambda: not has_buttons(bot_message(fake_slack, CHANNEL, request["ts"]))
        )
        if told:
            await fake_slack.wait_for(
                lambda: len(already_decided_replies(fake_slack, CHANNEL, thread)) >= len(told)
            )
        assert len(already_decided_replies(fake_slack, CHANNEL, thread)) == len(told)
    daemon.stop()
    assert_no_run_files(daemon.home)


def raced_decisions(approval: dict[str, Any]) -> tuple[str, str]:
    """Approve, and the refusal Codex offers for it (``decline``, or else ``cancel``)."""
    offered = approval["available_decisions"]
    refusal = next(d for d in ("decline", "cancel") if d in offered)
    assert "accept" in offered, offered
    return "accept", refusal


async def assert_codex_answered(
    client: httpx.AsyncClient, task_id: str, workspace: Path, winner: tuple[str, str]
) -> None:
    """Codex got exactly the winner's ``(by, decision)``: one ``approval.decided`` event, and
    the command ran (the task completes) or was refused (the turn stops) accordingly."""
    decision = winner[1]
    done = await wait_state(client, task_id, {*TERMINAL, "interrupted"})
    events = (await assert_nothing_lost(client, [task_id]))[task_id]
    decided = [e["data"] for e in events if e["type"] == "approval.decided"]
    assert [(d["by"], d["decision"]) for d in decided] == [winner], decided
    ran = (workspace / "approved.txt").exists()
    if decision == "accept":
        assert (done["state"], ran) == ("completed", True), done
    else:
        assert (done["state"], ran) == (
            "completed" if decision == "decline" else "interrupted",
            False,
        ), done


def has_buttons(message: dict[str, Any]) -> bool:
    return any(block.get("type") == "actions" for block in message.get("blocks") or ())


def bot_message(slack: FakeSlack, channel: str, ts: str) -> dict[str, Any]:
    """The bot's message ``ts`` as it reads now (after edits)."""
    (message,) = [m for m in slack.messages.get(channel, []) if m["ts"] == ts]
    return message


def already_decided_replies(slack: FakeSlack, channel: str, thread: str) -> list[str]:
    return [
        text
        for text in slack.bot_texts(channel, thread)
        if text.startswith(f"<@{REQUESTER}>: ") and "already decided" in text
    ]


async def slack_approval_actions(
    client: httpx.AsyncClient, task_id: str, count: int
) -> list[dict[str, Any]]:
    """The data of the task's ``slack.approval_action`` events, once there are ``count``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + SLACK_OUTCOMES_TIMEOUT_S
    while True:
        events = await all_events(client, task_id)
        actions = [e["data"] for e in events if e["type"] == "slack.approval_action"]
        if len(actions) >= count:
            assert len(actions) == count, actions
            return actions
        if loop.time() > deadline:
            raise AssertionError(f"{len(actions)} of {count} Slack clicks were handled: {actions}")
        await asyncio.sleep(0.1)  # the history only grows; polling it with a deadline
