"""/v1/auth/profiles: the list with accounts and rate limits, uploads (JSON and multipart,
validated, stored 0600, never echoed), activation under the idle rules, deletion."""

from __future__ import annotations

import base64
import json
import stat
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.api.auth_routes import auth_profiles_router
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.http.json_app import json_app
from codex_runner.service.auth_profiles import AuthProfiles
from codex_runner.service.profile_switch import ProfileSwitcher

from .test_auth_profile_routes import Runtime

PROFILES = "/v1/auth/profiles"
SECRET = "sk-never-shown-0123456789"


def id_token(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.signature"


CHATGPT_AUTH = {
    "tokens": {
        "id_token": id_token(
            {
                "email": "ops@example.com",
                "https://api.openai.com/auth": {"chatgpt_plan_type": "team"},
            }
        ),
        "access_token": SECRET,
        "refresh_token": SECRET,
    }
}


@dataclass
class Api:
    client: httpx.AsyncClient
    runtime: Runtime
    store: ProfileStore
    limits: dict[str, Any]


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    store = ProfileStore(tmp_path)
    store.create("work")
    runtime = Runtime()
    switcher = ProfileSwitcher(store, runtime)
    limits: dict[str, Any] = {}
    profiles = AuthProfiles(switcher, rate_limits=lambda: limits or None)
    app = json_app([auth_profiles_router(profiles, unavailable="unused")])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield Api(client, runtime, store, limits)
    await switcher.close()


async def test_the_list_shows_each_account_and_the_active_ones_rate_limits(api: Api) -> None:
    uploaded = await api.client.post(PROFILES, json={"name": "team", "auth_json": CHATGPT_AUTH})
    assert uploaded.status_code == 201, uploaded.text
    api.limits["primary"] = {"usedPercent": 42, "windowDurationMins": 300, "resetsAt": 1700}
    body = (await api.client.get(PROFILES)).json()
    assert body["active"] == "default" and body["pending"] is None
    by_name = {p["name"]: p for p in body["profiles"]}
    assert list(by_name) == ["default", "team", "work"]
    team = by_name["team"]
    assert (team["auth_mode"], team["email"], team["plan_type"]) == (
        "chatgpt",
        "ops@example.com",
        "team",
    )
    assert team["rate_limits"] == []  # only the runtime's profile has a report
    assert by_name["default"]["rate_limits"] == [
        {"window": "primary", "used_percent": 42, "window_minutes": 300, "resets_at": 1700}
    ]
    assert SECRET not in uploaded.text and SECRET not in json.dumps(body)


async def test_an_upload_is_stored_private_and_a_second_one_needs_replace(api: Api) -> None:
    form = {"name": "keyed"}
    files = {"file": ("auth.json", json.dumps({"OPENAI_API_KEY": SECRET}), "application/json")}
    first = await api.client.post(PROFILES, data=form, files=files)
    assert first.status_code == 201, first.text
    assert first.json()["auth_mode"] == "apikey" and SECRET not in first.text
    stored = api.store.codex_home("keyed") / "auth.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = await api.client.post(PROFILES, data=form, files=files)
    assert again.status_code == 409 and "replace" in again.json()["error"]["message"]
    replaced = await api.client.post(PROFILES, data={**form, "replace": "true"}, files=files)
    assert replaced.status_code == 201, replaced.text


@pytest.mark.parametrize(
    ("auth_json", "says"),
    [
        ("{not json", "not valid JSON"),
        ({"hello": SECRET}, "no Codex credentials"),
        ("x" * 70_000, "larger than"),
    ],
)
async def test_an_invalid_upload_is_refused_without_quoting_it(
    api: Api, auth_json: Any, says: str
) -> None:
    response = await api.client.post(PROFILES, json={"name": "bad", "auth_json": auth_json})
    assert response.status_code in (413, 422), response.text
    assert says in response.json()["error"]["message"]
    assert SECRET not in response.text and "xxxx" not in response.text
    assert not (api.store.home / "profiles" / "bad" / "auth.json").exists()


async def test_a_bad_name_is_a_422_naming_the_field(api: Api) -> None:
    response = await api.client.post(PROFILES, json={"name": "../up", "auth_json": CHATGPT_AUTH})
    assert response.status_code == 422 and response.json()["error"]["field"] == "name"
    assert "not a valid profile name" in response.json()["error"]["message"]
    no_file = await api.client.post(PROFILES, data={"name": "x"}, files={"other": ("a", b"{}")})
    assert no_file.status_code == 422 and no_file.json()["error"]["field"] == "file"
    text = await api.client.post(
        PROFILES, content=b"name=x", headers={"Content-Type": "text/plain"}
    )
    assert text.status_code == 415


async def test_activate_is_refused_while_a_turn_runs_unless_when_idle(api: Api) -> None:
    api.runtime.turns = 1
    refused = await api.client.post(f"{PROFILES}/work/activate")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "turns_running"
    assert api.store.active() == "default" and api.runtime.homes == []
    waiting = await api.client.post(f"{PROFILES}/work/activate", json={"mode": "when_idle"})
    assert waiting.status_code == 200 and waiting.json()["pending"] == "work"
    listed = (await api.client.get(PROFILES)).json()
    assert [p["name"] for p in listed["profiles"] if p["pending"]] == ["work"]
    # The profile a switch waits for is not deleted from under it.
    kept = await api.client.delete(f"{PROFILES}/work")
    assert kept.status_code == 409 and "waiting" in kept.json()["error"]["message"]
    api.runtime.turns = 0
    api.runtime.idle.set()
    assert (await api.client.post(f"{PROFILES}/work/activate")).json()["applied"] is True
    assert api.store.active() == "work"
    missing = await api.client.post(f"{PROFILES}/ghost/activate")
    assert missing.status_code == 404


async def test_delete_refuses_the_active_profile_and_default_and_removes_others(
    api: Api,
) -> None:
    await api.client.post(PROFILES, json={"name": "spare", "auth_json": CHATGPT_AUTH})
    await api.client.post(f"{PROFILES}/work/activate")
    active = await api.client.delete(f"{PROFILES}/work")
    assert active.status_code == 409 and "is active" in active.json()["error"]["message"]
    default = await api.client.delete(f"{PROFILES}/default")
    assert default.status_code == 409 and "cannot be removed" in default.json()["error"]["message"]
    assert (await api.client.delete(f"{PROFILES}/spare")).status_code == 204
    assert not api.store.exists("spare")
    assert (await api.client.delete(f"{PROFILES}/spare")).status_code == 404


async def test_the_active_profiles_auth_json_is_not_replaced_under_codex(api: Api) -> None:
    await api.client.post(PROFILES, json={"name": "work", "auth_json": CHATGPT_AUTH})
    await api.client.post(f"{PROFILES}/work/activate")
    body = {"name": "work", "auth_json": CHATGPT_AUTH, "replace": True}
    response = await api.client.post(PROFILES, json=body)
    assert response.status_code == 409 and "is active" in response.json()["error"]["message"]


async def test_without_a_switcher_every_route_says_why(tmp_path: Path) -> None:
    reason = "this daemon runs Codex with `codex exec` per turn"
    app = json_app([auth_profiles_router(None, unavailable=reason)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answers = [
            await client.get(PROFILES),
            await client.post(PROFILES, json={"name": "x", "auth_json": CHATGPT_AUTH}),
            await client.post(f"{PROFILES}/x/activate"),
            await client.delete(f"{PROFILES}/x"),
        ]
    for answer in answers:
        assert answer.status_code == 409
        assert answer.json()["error"] == {
            "code": "profiles_unavailable",
            "message": reason,
            "field": None,
        }
