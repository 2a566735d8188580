"""Every session and turn option reaches the real Codex (the scripted model records what it
was asked; the raw JSON-RPC log shows what Codex was told), structured results, both
runtimes in one daemon, and bad options refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from codex_runner.mockmodel import MockModelServer
from codex_runner.mockmodel.conversation import RecordedRequest

from .conftest import STRUCTURED_REPLY, StartDaemon
from .harness import TERMINAL, wait_state

pytestmark = pytest.mark.acceptance

GRADE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"verdict": {"enum": ["pass", "fail"]}, "score": {"type": "integer"}},
    "required": ["verdict", "score"],
    "additionalProperties": False,
}


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/v1/tasks", json=body)
    assert response.status_code == 201, response.text
    return await wait_state(client, response.json()["id"], TERMINAL)


async def message(client: httpx.AsyncClient, task_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """Send a follow-up (the task is queued again at once) and wait for it to settle."""
    response = await client.post(f"/v1/tasks/{task_id}/message", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["state"] == "queued"
    return await wait_state(client, task_id, TERMINAL)


def asked(model: MockModelServer, text: str) -> RecordedRequest:
    # Codex adds a tag per image after the text: the first line is the caller's.
    found = [r for r in model.requests if (r.last_user_text or "").split("\n")[0] == text]
    assert len(found) == 1, [r.last_user_text for r in model.requests]
    return found[0]


def developer_texts(request: RecordedRequest) -> str:
    return json.dumps([i for i in request.body["input"] if i.get("role") == "developer"])


async def test_session_options_and_one_turns_overrides_reach_codex_then_the_task_settings_return(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    daemon = await start_daemon(service={"rpc_log": True})
    async with daemon.client() as client:
        task = await submit(
            client,
            {
                "prompt": "quick",
                "cwd": str(tmp_path),
                "effort": "high",
                "developer_instructions": "DEV-MARK answer briefly",
                "base_instructions": "BASE-MARK you are a test",
                "personality": "pragmatic",
                "service_tier": "fast",
                "config": {"model_verbosity": "low"},
                "summary": "concise",
                "purpose": "review",
                "metadata": {"ticket": "ENG-7"},
            },
        )
        assert task["state"] == "completed", task
        (sub := tmp_path / "sub").mkdir()
        overridden = {
            "prompt": "what did I say first",
            "model": "mock-model-b",
            "effort": "low",
            "summary": "detailed",
            "cwd": "sub",
        }
        assert (await message(client, task["id"], overridden))["state"] == "completed"
        assert (await message(client, task["id"], {"prompt": "what did I say last"}))[
            "state"
        ] == "completed"
        listed = await client.get(
            "/v1/tasks", params={"purpose": "review", "metadata.ticket": "ENG-7"}
        )
        assert [t["id"] for t in listed.json()["tasks"]] == [task["id"]]
        missing = await client.get("/v1/tasks", params={"metadata.ticket": "ENG-8"})
        assert missing.json()["tasks"] == []
    first = asked(daemon_model, "quick")
    assert "DEV-MARK" in developer_texts(first) and "BASE-MARK" in developer_texts(first)
    assert first.body["reasoning"] == {"effort": "high", "summary": "concise"}
    second = asked(daemon_model, "what did I say first")
    assert second.body["model"] == "mock-model-b"
    assert second.body["reasoning"] == {"effort": "low", "summary": "detailed"}
    assert str(sub) in json.dumps(second.body["input"])  # the turn ran in the sub-directory
    third = asked(daemon_model, "what did I say last")  # overrides were for one turn only
    assert third.body["model"] == "mock-model"
    assert third.body["reasoning"]["effort"] == "high"
    assert "DEV-MARK" in developer_texts(third)
    # What Codex was told at thread/start: the options it keeps for the thread.
    rpc_files = sorted((daemon.home / "logs" / "raw" / "codex-rpc").glob("*.jsonl"))
    log = [line for f in rpc_files for line in f.read_text().splitlines()]
    starts = [json.loads(line)["msg"] for line in log if '"thread/start"' in line]
    params = next(m["params"] for m in starts if m.get("method") == "thread/start")
    assert params["personality"] == "pragmatic"
    assert params["serviceTier"] == "fast"
    assert params["config"] == {"model_verbosity": "low"}


async def test_an_output_schema_gives_a_validated_result_or_fails_keeping_the_reply(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = await submit(
            client, {"prompt": "grade it", "cwd": str(tmp_path), "output_schema": GRADE_SCHEMA}
        )
        assert task["state"] == "completed", task
        assert task["result"] == json.loads(STRUCTURED_REPLY) and task["has_result"]
        bad = await message(client, task["id"], {"prompt": "ramble", "output_schema": GRADE_SCHEMA})
        assert bad["state"] == "failed"
        assert bad["reason"].startswith("output_schema_mismatch: the final message is not JSON")
        assert bad["final_message"] == "I would rather not answer in JSON."
        assert bad["result"] is None and not bad["has_result"]
        turns = (await client.get(f"/v1/tasks/{task['id']}/turns")).json()["turns"]
        assert [t["result"] for t in turns] == [json.loads(STRUCTURED_REPLY), None]
        assert [t["status"] for t in turns] == ["completed", "failed"]
    request = asked(daemon_model, "grade it")
    assert request.body["text"]["format"]["schema"] == GRADE_SCHEMA


async def test_both_runtimes_serve_tasks_in_one_daemon(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        on_exec = await submit(
            client,
            {
                "prompt": "grade it",
                "cwd": str(tmp_path),
                "runtime": "exec",
                "developer_instructions": "EXEC-DEV-MARK",
                "output_schema": GRADE_SCHEMA,
            },
        )
        on_app_server = await submit(client, {"prompt": "hello", "cwd": str(tmp_path)})
        assert on_exec["state"] == "completed", on_exec
        assert on_exec["runtime"] == "exec" and on_exec["result"]["verdict"] == "pass"
        assert on_app_server["state"] == "completed", on_app_server
        follow_up = await message(client, on_exec["id"], {"prompt": "what did I say then"})
        assert follow_up["state"] == "completed", follow_up
        refused = await client.post(
            "/v1/tasks",
            json={
                "prompt": "x",
                "cwd": str(tmp_path),
                "runtime": "exec",
                "approval_policy": "on-request",
            },
        )
        assert refused.status_code == 422
        assert refused.json()["error"]["field"] == "approval_policy"
        status = (await client.get("/v1/status")).json()
        assert status["runtime"]["kind"] == "app-server"
    exec_request = asked(daemon_model, "grade it")
    assert "EXEC-DEV-MARK" in developer_texts(exec_request)
    assert exec_request.body["text"]["format"]["schema"] == GRADE_SCHEMA
    # The follow-up resumed the exec thread: Codex sent the earlier turn along.
    assert "grade it" in json.dumps(asked(daemon_model, "what did I say then").body["input"])


BAD_OPTIONS: list[tuple[dict[str, Any], str]] = [
    ({"config": {"sandbox_mode": "danger-full-access"}}, "config"),
    ({"config": {"mcp_servers.x.command": "sh"}}, "config"),
    ({"purpose": "Not A Label"}, "purpose"),
    ({"metadata": {"n": 5}}, "metadata"),
    ({"output_schema": {"type": "nonsense"}}, "output_schema"),
    ({"runtime": "docker"}, "runtime"),
    ({"turn_cwd": "../elsewhere"}, "cwd"),
    ({"personality": "grumpy"}, "personality"),
    ({"input": [{"type": "text", "text": "x"}]}, "input"),  # beside prompt
]


async def test_bad_options_are_refused_naming_the_field_and_create_nothing(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon = await start_daemon()  # one daemon for every case: what is checked is the API
    async with daemon.client() as client:
        for extra, field in BAD_OPTIONS:
            response = await client.post(
                "/v1/tasks", json={"prompt": "quick", "cwd": str(tmp_path), **extra}
            )
            assert response.status_code == 422, (extra, response.text)
            assert response.json()["error"]["field"].split(".")[0] == field, extra
        assert (await client.get("/v1/tasks")).json()["tasks"] == []


async def test_a_graphs_options_hold_for_every_child_and_a_child_has_its_own_schema(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    daemon = await start_daemon()
    async with daemon.client() as client:
        response = await client.post(
            "/v1/graphs",
            json={
                "cwd": str(tmp_path),
                "developer_instructions": "GRAPH-DEV-MARK",
                "purpose": "nightly",
                "metadata": {"run": "42"},
                "children": [
                    {"key": "grade", "prompt": "grade it", "output_schema": GRADE_SCHEMA},
                    {"key": "greet", "prompt": "hello"},
                ],
            },
        )
        assert response.status_code == 201, response.text
        graph = response.json()
        parent = await wait_state(client, graph["parent"]["id"], TERMINAL)
        assert parent["state"] == "completed", parent
        listed = (await client.get("/v1/tasks", params={"metadata.run": "42"})).json()["tasks"]
        assert len(listed) == 3 and {t["purpose"] for t in listed} == {"nightly"}
        by_key = {
            c["key"]: c for c in (await client.get(f"/v1/graphs/{graph['id']}")).json()["children"]
        }
        assert by_key["grade"]["result"] == json.loads(STRUCTURED_REPLY)
        assert not by_key["greet"]["has_result"]
    for prompt in ("grade it", "hello"):
        assert "GRAPH-DEV-MARK" in developer_texts(asked(daemon_model, prompt))


def tiny_png() -> bytes:
    """A valid 1x1 PNG (Codex reads, and may resize, the images it sends)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


async def test_input_items_send_workspace_and_uploaded_images_to_codex(
    start_daemon: StartDaemon, daemon_model: MockModelServer, tmp_path: Path
) -> None:
    import base64

    (tmp_path / "shot.png").write_bytes(tiny_png())
    daemon = await start_daemon()
    async with daemon.client() as client:
        task = await submit(
            client,
            {
                "cwd": str(tmp_path),
                "input": [
                    {"type": "text", "text": "quick"},
                    {"type": "local_image", "path": "shot.png"},
                    {
                        "type": "image",
                        "data": base64.b64encode(tiny_png()).decode(),
                        "media_type": "image/png",
                    },
                ],
            },
        )
        assert task["state"] == "completed", task
        outside = await client.post(
            f"/v1/tasks/{task['id']}/message",
            json={
                "input": [
                    {"type": "text", "text": "x"},
                    {"type": "local_image", "path": "/etc/hostname"},
                ]
            },
        )
        assert outside.status_code == 422 and outside.json()["error"]["field"] == "input"
        follow_up = await message(
            client,
            task["id"],
            {
                "input": [
                    {"type": "text", "text": "hello"},
                    {"type": "local_image", "path": "shot.png"},
                ]
            },
        )
        assert follow_up["state"] == "completed", follow_up
    uploads = list((daemon.home / "uploads").iterdir())
    assert len(uploads) == 1 and uploads[0].read_bytes() == tiny_png()
    for prompt, images in (("quick", 2), ("hello", 1)):
        request = asked(daemon_model, prompt)
        user = [i for i in request.body["input"] if i.get("role") == "user"][-1]
        kinds = [part["type"] for part in user["content"]]
        assert kinds.count("input_image") == images, user
