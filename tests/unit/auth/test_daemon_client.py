"""Asking a running daemon to switch profiles: bearer token, refusals, no answer."""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import pytest

from codex_runner.auth.daemon_client import DaemonSwitchError, request_switch
from codex_runner.runner_home.api_token import ensure_token
from codex_runner.runner_home.daemon_info import DaemonInfo

DAEMON = DaemonInfo("http://daemon.test", os.getpid(), "2026-01-01T00:00:00Z")


def test_the_switch_is_posted_with_the_token(tmp_path: Path) -> None:
    token = ensure_token(tmp_path)
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"active": "work", "applied": True, "message": "ok"})

    switch = request_switch(
        tmp_path, DAEMON, "work", "when_idle", transport=httpx.MockTransport(handle)
    )
    assert switch.result["active"] == "work"
    assert seen[0].url.path == "/v1/auth/profile"
    assert seen[0].headers["authorization"] == f"Bearer {token}"
    assert json.loads(seen[0].content) == {"name": "work", "mode": "when_idle"}


def test_a_refusal_carries_the_daemons_message(tmp_path: Path) -> None:
    ensure_token(tmp_path)
    body = {"error": {"code": "turns_running", "message": "1 turn(s) running; use --when-idle"}}
    transport = httpx.MockTransport(lambda _: httpx.Response(409, json=body))
    with pytest.raises(DaemonSwitchError, match="--when-idle") as caught:
        request_switch(tmp_path, DAEMON, "work", "now", transport=transport)
    assert caught.value.refused


def test_a_daemon_that_does_not_answer_points_to_doctor(tmp_path: Path) -> None:
    ensure_token(tmp_path)

    def handle(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(DaemonSwitchError, match="codex-runner doctor") as caught:
        request_switch(tmp_path, DAEMON, "work", "now", transport=httpx.MockTransport(handle))
    assert not caught.value.refused


def test_a_daemon_without_the_profile_route_is_told_apart_from_a_refusal(tmp_path: Path) -> None:
    ensure_token(tmp_path)
    transport = httpx.MockTransport(lambda _: httpx.Response(404, json={"detail": "Not Found"}))
    with pytest.raises(DaemonSwitchError) as caught:
        request_switch(tmp_path, DAEMON, "work", "now", transport=transport)
    assert caught.value.unsupported and not caught.value.refused
    unknown = {"error": {"code": "not_found", "message": "no auth profile named 'work'"}}
    transport = httpx.MockTransport(lambda _: httpx.Response(404, json=unknown))
    with pytest.raises(DaemonSwitchError, match="no auth profile") as caught:
        request_switch(tmp_path, DAEMON, "work", "now", transport=transport)
    assert not caught.value.unsupported
