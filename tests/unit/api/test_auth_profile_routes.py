"""/v1/auth/profile: read the active profile, switch it, 409 while turns run."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from codex_runner.api.auth_routes import auth_router
from codex_runner.auth.profile_store import ProfileStore
from codex_runner.codex.errors import TurnBusy
from codex_runner.http.json_app import json_app
from codex_runner.service.profile_switch import ProfileSwitcher


class Runtime:
    def __init__(self) -> None:
        self.turns = 0
        self.idle = asyncio.Event()
        self.homes: list[Path] = []

    def running_turns(self) -> int:
        return self.turns

    async def wait_idle(self) -> None:
        await self.idle.wait()

    async def switch_codex_home(self, codex_home: Path, *, force: bool = False) -> None:
        if self.turns and not force:
            raise TurnBusy("busy")
        self.homes.append(codex_home)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Runtime, ProfileStore]]:
    store = ProfileStore(tmp_path)
    store.create("work")
    runtime = Runtime()
    switcher = ProfileSwitcher(store, runtime)
    app = json_app([auth_router(switcher)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, runtime, store
    await switcher.close()


async def test_get_lists_profiles_and_the_active_one(
    api: tuple[httpx.AsyncClient, Runtime, ProfileStore],
) -> None:
    client, _, _ = api
    body = (await client.get("/v1/auth/profile")).json()
    assert body["active"] == "default" and body["pending"] is None
    assert [p["name"] for p in body["profiles"]] == ["default", "work"]


async def test_post_switches_an_idle_runtime(
    api: tuple[httpx.AsyncClient, Runtime, ProfileStore],
) -> None:
    client, runtime, store = api
    response = await client.post("/v1/auth/profile", json={"name": "work"})
    assert response.status_code == 200, response.text
    assert response.json()["applied"] is True
    assert runtime.homes == [store.codex_home("work")] and store.active() == "work"


async def test_post_is_a_409_with_the_fix_while_turns_run(
    api: tuple[httpx.AsyncClient, Runtime, ProfileStore],
) -> None:
    client, runtime, store = api
    runtime.turns = 1
    response = await client.post("/v1/auth/profile", json={"name": "work", "mode": "now"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "turns_running" and "--when-idle" in error["message"]
    pending = await client.post("/v1/auth/profile", json={"name": "work", "mode": "when_idle"})
    assert pending.status_code == 200 and pending.json()["pending"] == "work"
    assert (await client.get("/v1/auth/profile")).json()["pending"] == "work"
    assert store.active() == "default"


async def test_unknown_profiles_and_modes_are_client_errors(
    api: tuple[httpx.AsyncClient, Runtime, ProfileStore],
) -> None:
    client, _, _ = api
    missing = await client.post("/v1/auth/profile", json={"name": "ghost"})
    assert missing.status_code == 404 and "ghost" in missing.json()["error"]["message"]
    bad = await client.post("/v1/auth/profile", json={"name": "work", "mode": "later"})
    assert bad.status_code == 422
    malformed = await client.post("/v1/auth/profile", json={"name": "../etc"})
    assert malformed.status_code == 422
    assert malformed.json()["error"]["field"] == "name"
    assert "not a valid profile name" in malformed.json()["error"]["message"]


async def test_a_damaged_active_profile_file_names_the_fix_and_a_switch_repairs_it(
    api: tuple[httpx.AsyncClient, Runtime, ProfileStore],
) -> None:
    client, _, store = api
    (store.home / "profiles" / "active").write_text("../../nope\n")
    response = await client.get("/v1/auth/profile")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "misconfigured"
    assert "codex-runner auth profiles use" in response.json()["error"]["message"]
    switched = await client.post("/v1/auth/profile", json={"name": "work"})
    assert switched.status_code == 200, switched.text
    assert (await client.get("/v1/auth/profile")).json()["active"] == "work"
