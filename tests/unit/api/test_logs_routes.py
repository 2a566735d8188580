"""GET /v1/logs (filters, cursor across the hour, the bearer token) and the raw http layer
(method, path, status, duration; never the Authorization header, a body or a query)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest

from codex_runner.api.app import create_app
from codex_runner.api.raw_http import RawHttpLog
from codex_runner.api.routes_logs import log_routes
from codex_runner.logs import LogLayout, LogWriter, RawLayer
from codex_runner.logs.layout import hour_name

from .conftest import AUTH, BASE_URL, TOKEN, make_service

CANARY = "sk-canary0123456789abcdef"


def write(directory: Path, name: str, *records: dict[str, object]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("ab") as out:
        for record in records:
            out.write(orjson.dumps(record) + b"\n")


def rec(message: str, level: str = "info") -> dict[str, object]:
    at = datetime.fromtimestamp(time.time(), UTC).isoformat()
    return {"at": at, "level": level, "logger": "codex_runner.x", "message": message}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, LogWriter]]:
    service, *_ = make_service(tmp_path)
    writer = LogWriter()
    app = create_app(
        service, token=TOKEN, ready=lambda: True, routers=[log_routes(tmp_path / "logs")]
    )
    app.add_middleware(
        RawHttpLog, layer=RawLayer("http", LogLayout(tmp_path / "logs"), writer, 4096)
    )
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=BASE_URL
        ) as http:
            yield http, writer
    finally:
        writer.close()


async def test_logs_need_the_token_and_filter_and_page_with_a_cursor(
    tmp_path: Path, client: tuple[httpx.AsyncClient, LogWriter]
) -> None:
    http, _ = client
    runner = tmp_path / "logs" / "runner"
    now = hour_name(time.time())
    write(runner, now, rec("a"), rec("b", "warning"), rec("c", "debug"))
    assert (await http.get("/v1/logs")).status_code == 401
    first = (await http.get("/v1/logs", params={"level": "info"}, headers=AUTH)).json()
    assert [r["message"] for r in first["records"]] == ["a", "b"]
    write(runner, now, rec("d", "error"))
    write(runner, "2999-01-01-00.jsonl", rec("next hour"), rec("quiet", "debug"))
    params = {"level": "info", "cursor": first["cursor"]}
    second = (await http.get("/v1/logs", params=params, headers=AUTH)).json()
    assert [r["message"] for r in second["records"]] == ["d", "next hour"]
    params["cursor"] = second["cursor"]
    assert (await http.get("/v1/logs", params=params, headers=AUTH)).json()["records"] == []


async def test_bad_log_queries_are_refused_naming_the_problem(
    client: tuple[httpx.AsyncClient, LogWriter],
) -> None:
    http, _ = client
    for params, says in [
        ({"level": "loud"}, "one of debug"),
        ({"cursor": "../../etc/passwd:0"}, "not one this API gave"),
        ({"since": "soon"}, "neither a duration"),
        ({"task": "t", "session": "s"}, "not both"),
    ]:
        response = await http.get("/v1/logs", params=params, headers=AUTH)
        assert response.status_code == 422, params
        assert says in response.json()["error"]["message"]


async def test_the_raw_http_layer_never_holds_the_token_a_body_or_a_query(
    tmp_path: Path, client: tuple[httpx.AsyncClient, LogWriter]
) -> None:
    http, writer = client
    body = {"prompt": f"use {CANARY}", "cwd": str(tmp_path)}
    await http.post(f"/v1/tasks?note={CANARY}", json=body, headers=AUTH)
    await http.get("/v1/status", headers={"Authorization": "Bearer wrong-token-xyz"})
    assert writer.flush()
    files = sorted((tmp_path / "logs" / "raw" / "http").glob("*.jsonl"))
    text = "".join(f.read_text() for f in files)
    assert TOKEN not in text and "wrong-token-xyz" not in text
    assert CANARY not in text and "prompt" not in text and "note=" not in text
    records = [orjson.loads(line) for line in text.splitlines()]
    assert [(r["method"], r["path"]) for r in records] == [
        ("POST", "/v1/tasks"),
        ("GET", "/v1/status"),
    ]
    assert records[1]["status"] == 401
    assert set(records[0]) == {"at", "method", "path", "status", "duration_ms"}
