"""The CLI's link to a running daemon, for the services in its process: profile switches
(bearer token, refusals, no answer) and doctor's health questions."""

from __future__ import annotations

import json

import httpx
import pytest

from codex_runner.cli.daemon_link import ApiDaemonLink
from codex_runner.service.daemon_link import DaemonRefused, DaemonUnanswered

URL = "http://daemon.test"
TOKEN = "daemon-token-0123456789"


def test_the_switch_is_posted_with_the_token() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = {"active": "work", "pending": None, "applied": True, "message": "switched to work"}
        return httpx.Response(200, json=body)

    link = ApiDaemonLink(transport=httpx.MockTransport(handle))
    assert link.switch_profile(URL, TOKEN, "work", "when_idle") == "switched to work"
    assert seen[0].url.path == "/v1/auth/profile"
    assert seen[0].headers["authorization"] == f"Bearer {TOKEN}"
    assert json.loads(seen[0].content) == {"name": "work", "mode": "when_idle"}


def test_a_refusal_carries_the_daemons_message() -> None:
    body = {"error": {"code": "turns_running", "message": "1 turn(s) running; use --when-idle"}}
    link = ApiDaemonLink(transport=httpx.MockTransport(lambda _: httpx.Response(409, json=body)))
    with pytest.raises(DaemonRefused, match="--when-idle") as caught:
        link.switch_profile(URL, TOKEN, "work", "now")
    assert caught.value.busy and not caught.value.unsupported


def test_a_daemon_that_does_not_answer_says_how_the_request_failed() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    link = ApiDaemonLink(transport=httpx.MockTransport(handle))
    with pytest.raises(DaemonUnanswered, match="ConnectError"):
        link.switch_profile(URL, TOKEN, "work", "now")
    with pytest.raises(DaemonUnanswered, match="ConnectError"):
        link.answers(URL, TOKEN)


def test_a_daemon_without_the_profile_route_is_told_apart_from_a_refusal() -> None:
    not_found = httpx.MockTransport(lambda _: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(DaemonRefused) as caught:
        ApiDaemonLink(transport=not_found).switch_profile(URL, TOKEN, "work", "now")
    assert caught.value.unsupported and not caught.value.busy
    unknown = {"error": {"code": "not_found", "message": "no auth profile named 'work'"}}
    transport = httpx.MockTransport(lambda _: httpx.Response(404, json=unknown))
    with pytest.raises(DaemonRefused, match="no auth profile") as caught:
        ApiDaemonLink(transport=transport).switch_profile(URL, TOKEN, "work", "now")
    assert not caught.value.unsupported


def test_the_health_answers_are_the_statuses_even_when_they_are_errors() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/healthz":
            return httpx.Response(200, json={"ok": True})
        if request.headers.get("authorization") != f"Bearer {TOKEN}":
            return httpx.Response(401)
        return httpx.Response(200, json={})

    link = ApiDaemonLink(transport=httpx.MockTransport(handle))
    answers = link.answers(URL, TOKEN)
    assert (answers.healthz, answers.status) == (200, 200)
    answers = link.answers(URL, "someone-elses-token")
    assert (answers.healthz, answers.status) == (200, 401)
