from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from codex_runner.api.app import create_app
from codex_runner.codex.runtime import RuntimeStatus
from codex_runner.domain.task import TaskState
from codex_runner.service.home_watch import HomeUnavailable

from .conftest import AUTH, BASE_URL, TOKEN, Harness, make_service


async def test_healthz_needs_no_token(harness: Harness) -> None:
    response = await harness.client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_readyz_follows_ready(harness: Harness) -> None:
    assert (await harness.get("/readyz")).json() == {"ok": True}
    harness.ready[0] = False
    response = await harness.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "not_ready"


async def test_status_counts_states_and_lists_active_tasks(harness: Harness) -> None:
    done = await harness.submit("quick")
    await harness.wait_state(done["id"], TaskState.COMPLETED)
    running = await harness.submit("wait here")
    await harness.wait_state(running["id"], TaskState.RUNNING)
    response = await harness.get("/v1/status")
    assert response.status_code == 200
    status = response.json()
    assert status["counts"]["completed"] == 1
    assert status["counts"]["running"] == 1
    assert status["counts"]["failed"] == 0
    assert set(status["counts"]) == {s.value for s in TaskState}
    assert [t["id"] for t in status["active"]] == [running["id"]]
    assert status["max_concurrent"] == 2
    assert status["version"] == "9.9.9"
    assert status["runtime"]["kind"] == "scripted"
    assert status["runtime"]["state"] == "ready"


async def test_gc_keeps_unmerged_work_unless_forced(harness: Harness) -> None:
    task = await harness.submit("wait then write", cwd=None, repo=str(harness.repo))
    await harness.runtime.wait_started(1)
    (Path(harness.workspaces.root) / task["id"] / "f.txt").write_text("x\n")
    harness.runtime.gate.set()
    await harness.wait_state(task["id"], TaskState.COMPLETED)

    recent = (await harness.post("/v1/gc", {})).json()
    assert recent == {
        "dry_run": False,
        "removed": [],
        "removed_worktrees": [],
        "kept": [
            {"task_id": task["id"], "reason": "recent", "detail": recent["kept"][0]["detail"]}
        ],
    }
    unmerged = (await harness.post("/v1/gc", {"retention_s": 0})).json()
    assert unmerged["kept"][0]["reason"] == "unmerged_work"
    body = {"retention_s": 0, "force": True, "dry_run": True}
    dry = (await harness.post("/v1/gc", body)).json()
    assert dry["dry_run"] and dry["removed_worktrees"][0]["bytes"] == 2  # f.txt, kept
    assert (Path(harness.workspaces.root) / task["id"] / "f.txt").exists()
    forced = (await harness.post("/v1/gc", {"retention_s": 0, "force": True})).json()
    assert forced == {
        "dry_run": False,
        "removed": [task["id"]],
        "removed_worktrees": [
            {
                "task_id": task["id"],
                "path": str(Path(harness.workspaces.root) / task["id"]),
                "branch": f"codex-runner/{task['id']}",
                "bytes": 2,
            }
        ],
        "kept": [],
    }
    events = (await harness.client.get(f"/v1/tasks/{task['id']}/events", headers=AUTH)).json()
    removed = events["events"][-1]
    assert removed["type"] == "workspace.removed"
    assert (removed["data"]["rule"], removed["data"]["bytes"]) == ("retention", 2)


async def test_gc_without_a_body_uses_the_default_retention(harness: Harness) -> None:
    response = await harness.client.post("/v1/gc", headers=AUTH)
    assert response.status_code == 200
    assert response.json() == {
        "dry_run": False,
        "removed": [],
        "removed_worktrees": [],
        "kept": [],
    }
    bad = await harness.post("/v1/gc", {"retention_s": -1})
    assert bad.status_code == 422
    assert bad.json()["error"]["field"] == "retention_s"


class _BrokenStatus(Exception):
    pass


async def test_an_unexpected_error_is_a_generic_500_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service, runtime, *_ = make_service(tmp_path)

    def broken() -> RuntimeStatus:
        raise _BrokenStatus("secret detail sk-123")

    runtime.status = broken  # type: ignore[method-assign]
    app = create_app(service, token=TOKEN, ready=lambda: True)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        with caplog.at_level(logging.ERROR, logger="codex_runner.http.errors"):
            response = await client.get("/v1/status", headers=AUTH)
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "internal"
        assert "sk-123" not in response.text
        assert "see its log" in error["message"]
        logged = [r.exc_info[1] for r in caplog.records if r.exc_info is not None]
        assert any(isinstance(e, _BrokenStatus) for e in logged)
        # The app keeps serving.
        assert (await client.get("/healthz")).status_code == 200


async def test_a_home_problem_fails_readyz_and_refuses_new_work_naming_it(
    tmp_path: Path,
) -> None:
    problem = "the runner's home /h was deleted while the daemon ran"

    def refuse() -> None:
        raise HomeUnavailable(problem)

    service, *_ = make_service(tmp_path)
    service._admission = refuse  # as the daemon's home watch does once the home is gone
    app = create_app(service, token=TOKEN, ready=lambda: True, home_problem=lambda: problem)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        ready = await client.get("/readyz", headers=AUTH)
        submitted = await client.post(
            "/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path)}, headers=AUTH
        )
    for response in (ready, submitted):
        assert response.status_code == 503
        assert response.json()["error"] == {
            "code": "home_unavailable",
            "message": problem,
            "field": None,
        }
