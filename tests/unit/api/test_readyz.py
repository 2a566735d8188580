"""/readyz: 200 when ready, else 503 naming every failing check."""

from __future__ import annotations

from pathlib import Path

import httpx

from codex_runner.api.app import create_app
from codex_runner.service.readiness import NotReady

from .conftest import AUTH, BASE_URL, TOKEN, make_service


async def _readyz(tmp_path: Path, problems: list[NotReady], home: str | None) -> httpx.Response:
    service, *_ = make_service(tmp_path)
    app = create_app(
        service,
        token=TOKEN,
        ready=lambda: not problems and home is None,
        readiness=lambda: problems,
        home_problem=lambda: home,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        return await client.get("/readyz", headers=AUTH)


async def test_ready_is_200(tmp_path: Path) -> None:
    response = await _readyz(tmp_path, [], None)
    assert (response.status_code, response.json()) == (200, {"ok": True})


async def test_not_ready_lists_one_reason_per_failing_check(tmp_path: Path) -> None:
    problems = [
        NotReady("store", "the store is not open (the daemon is starting)"),
        NotReady("codex", "the Codex runtime is failed, not ready: codex not found"),
    ]
    response = await _readyz(tmp_path, problems, None)
    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "not_ready"
    assert body["not_ready"] == [{"check": p.check, "reason": p.reason} for p in problems]
    for p in problems:
        assert p.reason in body["error"]["message"]


async def test_a_home_problem_joins_the_other_reasons_under_its_own_code(
    tmp_path: Path,
) -> None:
    problems = [NotReady("codex", "the Codex runtime is starting, not ready")]
    response = await _readyz(tmp_path, problems, "the runner's home was deleted")
    body = response.json()
    assert body["error"]["code"] == "home_unavailable"
    assert [c["check"] for c in body["not_ready"]] == ["codex", "home"]
