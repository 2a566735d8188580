"""Submit bodies that must be refused with a 422 naming the field (never coerced, never a
500), an idempotency key reused with another body, a busy store, a collected worktree."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.api.app import create_app
from codex_runner.codex.scripted import ScriptedRuntime
from codex_runner.domain.task import TaskState
from codex_runner.service.event_bus import EventBus
from codex_runner.service.tasks import TaskService
from codex_runner.store.sql import SqlStore
from codex_runner.workspace.memory import InMemoryWorkspaces

from .conftest import AUTH, BASE_URL, TOKEN, Harness, script_for


async def post_raw(harness: Harness, url: str, body: str) -> httpx.Response:
    # Raw text: JSON's NaN and Infinity are what a client really sends.
    headers = {"Content-Type": "application/json", **AUTH}
    return await harness.client.post(url, content=body.encode(), headers=headers)


def task_body(harness: Harness, **fields: str) -> str:
    parts = ['"prompt": "x"', f'"cwd": {json.dumps(str(harness.plain_dir))}']
    parts += [f'"{name}": {value}' for name, value in fields.items()]
    return "{" + ", ".join(parts) + "}"


@pytest.mark.parametrize(
    ("field", "raw", "says"),
    [
        ("priority", "true", "an integer from -1000 to 1000"),
        ("priority", '"5"', "an integer from -1000 to 1000"),
        ("priority", "5.5", "an integer from -1000 to 1000"),
        ("priority", "null", "an integer from -1000 to 1000"),
        ("max_runtime_s", "NaN", "max_runtime_s must be a positive finite number of seconds"),
        ("max_runtime_s", "Infinity", "positive finite number of seconds"),
        ("max_runtime_s", "-Infinity", "positive finite number of seconds"),
        ("max_runtime_s", "0", "positive finite number of seconds"),
        ("max_runtime_s", "-1", "positive finite number of seconds"),
        ("max_runtime_s", "true", "positive finite number of seconds"),
        ("max_runtime_s", '"60"', "positive finite number of seconds"),
        ("effort", '"ultra"', "none, minimal, low, medium, high, xhigh"),
        ("effort", "3", "none, minimal, low, medium, high, xhigh"),
        ("model", '"gpt-5\\nrm -rf /"', "control character"),
        ("model", '"gpt\\u001b[31m"', "control character"),
        ("model", json.dumps("m" * 201), "at most 200"),
    ],
)
async def test_a_task_value_of_the_wrong_kind_is_422_naming_the_field_and_the_rule(
    harness: Harness, field: str, raw: str, says: str
) -> None:
    response = await post_raw(harness, "/v1/tasks", task_body(harness, **{field: raw}))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == ("invalid_request", field)
    assert says in error["message"]
    assert await harness.service.list_tasks() == []


async def test_the_accepted_values_still_pass(harness: Harness) -> None:
    body = task_body(harness, priority="-1000", max_runtime_s="90", effort='"xhigh"')
    response = await post_raw(harness, "/v1/tasks", body)
    assert response.status_code == 201, response.text
    task = response.json()
    assert (task["priority"], task["max_runtime_s"], task["effort"]) == (-1000, 90.0, "xhigh")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"priority": "true"}, "priority"),
        ({"max_runtime_s": "NaN"}, "max_runtime_s"),
        ({"effort": '"ultra"'}, "effort"),
    ],
)
async def test_a_graph_refuses_the_same_values(
    harness: Harness, fields: dict[str, str], field: str
) -> None:
    body = task_body(harness, children='[{"key": "a", "prompt": "do a"}]', **fields)
    response = await post_raw(harness, "/v1/graphs", body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    child = task_body(harness, children='[{"key": "a", "prompt": "do a", "priority": "1"}]')
    response = await post_raw(harness, "/v1/graphs", child)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "children[0].priority"
    assert await harness.service.list_tasks() == []


async def test_cwd_is_stored_resolved(harness: Harness, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(harness.plain_dir)
    for given in (str(link), f"{harness.plain_dir}/../{harness.plain_dir.name}"):
        task = await harness.submit("quick", cwd=given)
        assert task["cwd"] == str(harness.plain_dir.resolve())


async def test_an_idempotency_key_with_another_body_is_409_naming_the_key(
    harness: Harness,
) -> None:
    body = {"prompt": "x", "cwd": str(harness.plain_dir), "idempotency_key": "k-1"}
    first = await harness.post("/v1/tasks", body)
    same = await harness.post("/v1/tasks", body)
    other = await harness.post("/v1/tasks", {**body, "prompt": "y"})
    assert (first.status_code, same.status_code, other.status_code) == (201, 200, 409)
    assert same.json()["id"] == first.json()["id"]
    error = other.json()["error"]
    assert (error["code"], error["field"]) == ("idempotency_conflict", "idempotency_key")
    assert "'k-1'" in error["message"] and first.json()["id"] in error["message"]
    assert len(await harness.service.list_tasks()) == 1


async def test_diff_of_a_collected_worktree_says_so(harness: Harness) -> None:
    task = await harness.submit("quick", cwd=None, repo=str(harness.repo))
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    before = (await harness.get(f"/v1/tasks/{task['id']}/diff")).json()
    assert before["collected"] is False and before["collected_at"] is None
    gc = await harness.post("/v1/gc", {"retention_s": 0, "force": True})
    assert task["id"] in gc.json()["removed"]
    after = (await harness.get(f"/v1/tasks/{task['id']}/diff")).json()
    assert after["collected"] is True and after["collected_at"] is not None
    assert after["diff"] == ""


@pytest.fixture
async def busy_api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Path, Path]]:
    db = tmp_path / "runner.sqlite"
    store = await SqlStore.open(db, busy_timeout_s=0.1)
    runtime = ScriptedRuntime(script_for)
    service = TaskService(
        store,
        runtime,
        InMemoryWorkspaces(tmp_path / "worktrees"),
        EventBus(),
        max_concurrent=1,
        approval_timeout_s=30.0,
    )
    app = create_app(service, token=TOKEN, ready=lambda: True, version="9.9.9")
    plain = tmp_path / "plain"
    plain.mkdir()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
            yield client, db, plain
    finally:
        await store.close()


async def test_a_store_locked_by_another_process_is_503_with_retry_after(
    busy_api: tuple[httpx.AsyncClient, Path, Path],
) -> None:
    client, db, plain = busy_api
    body: dict[str, Any] = {"prompt": "x", "cwd": str(plain)}
    other = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN EXCLUSIVE")
    try:
        response = await client.post("/v1/tasks", json=body, headers=AUTH)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert response.status_code == 503, response.text
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()["error"] == {
        "code": "store_busy",
        "message": "the store is busy (another process holds the database lock); retry shortly",
        "field": None,
    }
    again = await client.post("/v1/tasks", json=body, headers=AUTH)
    assert again.status_code == 201, again.text
