from __future__ import annotations

from pathlib import Path

import pytest

from codex_runner.domain.task import TaskState

from .conftest import AUTH, Harness


async def test_submit_in_a_directory_returns_201_and_the_task(harness: Harness) -> None:
    response = await harness.post(
        "/v1/tasks",
        {"prompt": "wait here", "cwd": str(harness.plain_dir), "priority": 7, "model": "m1"},
    )
    assert response.status_code == 201, response.text
    task = response.json()
    assert task["id"].startswith("t_")
    assert task["state"] == "queued"
    assert (task["cwd"], task["repo"], task["priority"]) == (str(harness.plain_dir), None, 7)
    assert task["model"] == "m1"
    stored = await harness.service.get(task["id"])
    assert stored.prompt == "wait here"


async def test_submit_in_a_repository_defaults_base_ref_to_head(harness: Harness) -> None:
    task = await harness.submit("fix it", cwd=None, repo=str(harness.repo))
    assert (task["repo"], task["base_ref"], task["cwd"]) == (str(harness.repo), "HEAD", None)
    done = await harness.wait_state(task["id"], TaskState.COMPLETED)
    assert done.branch == f"codex-runner/{task['id']}"


async def test_submit_with_an_idempotency_key_twice_returns_the_same_task(
    harness: Harness,
) -> None:
    body = {"prompt": "wait once", "cwd": str(harness.plain_dir), "idempotency_key": "k-1"}
    first = await harness.post("/v1/tasks", body)
    second = await harness.post("/v1/tasks", body)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert len(await harness.service.list_tasks()) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"prompt": "x"}, "repo"),
        ({"prompt": "x", "repo": "/a", "cwd": "/b"}, "cwd"),
        ({"prompt": "x", "cwd": "/tmp", "base_ref": "main"}, "base_ref"),
        ({"prompt": "", "cwd": "/tmp"}, "prompt"),
        ({"prompt": "   ", "cwd": "/tmp"}, "prompt"),
        ({"cwd": "/tmp"}, "prompt"),
        ({"prompt": "x", "cwd": "/tmp", "priority": 1001}, "priority"),
        ({"prompt": "x", "cwd": "/tmp", "sandbox": "yolo"}, "sandbox"),
        ({"prompt": "x", "cwd": "/tmp", "colour": "red"}, "colour"),
        ({"prompt": "x", "cwd": "relative/dir"}, "cwd"),
        ({"prompt": "x", "cwd": "/no/such/dir/anywhere"}, "cwd"),
        ({"prompt": "x", "repo": "/no/such/repo/anywhere"}, "repo"),
    ],
)
async def test_bad_submissions_are_422_naming_the_field_and_create_nothing(
    harness: Harness, body: dict[str, object], field: str
) -> None:
    response = await harness.post("/v1/tasks", body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert error["code"] == "invalid_request"
    assert error["message"]
    assert await harness.service.list_tasks() == []


async def test_a_directory_that_is_not_a_repository_is_refused(harness: Harness) -> None:
    response = await harness.post("/v1/tasks", {"prompt": "x", "repo": str(harness.plain_dir)})
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "repo"
    assert "not a usable git repository" in error["message"]
    assert await harness.service.list_tasks() == []


async def test_an_unknown_base_ref_is_refused(harness: Harness) -> None:
    body = {"prompt": "x", "repo": str(harness.repo), "base_ref": "nope"}
    response = await harness.post("/v1/tasks", body)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "base_ref"


@pytest.mark.parametrize(
    ("field", "extra"),
    [("base_ref", {"base_ref": "main\u0000"}), ("base_ref", {"base_ref": "main\n"})],
)
async def test_a_control_character_in_a_ref_or_path_is_refused(
    harness: Harness, field: str, extra: dict[str, str]
) -> None:
    response = await harness.post("/v1/tasks", {"prompt": "x", "repo": str(harness.repo), **extra})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == field
    assert "control character" in response.json()["error"]["message"]
    cwd = await harness.post("/v1/tasks", {"prompt": "x", "cwd": "/tmp/a\u0000b"})
    assert cwd.status_code == 422 and cwd.json()["error"]["field"] == "cwd"
    assert await harness.service.list_tasks() == []


async def test_validation_messages_name_the_field(harness: Harness) -> None:
    response = await harness.post("/v1/tasks", {"prompt": "x", "cwd": "/tmp", "priority": 5000})
    assert response.json()["error"]["message"] == (
        "field 'priority': priority must be an integer from -1000 to 1000 (higher runs first),"
        " not 5000"
    )
    response = await harness.client.post(
        "/v1/tasks",
        content=b"{not json",
        headers={"Content-Type": "application/json", **AUTH},
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["field"] == "body"
    assert error["message"].startswith("the body is not valid JSON")
    missing = await harness.client.post("/v1/tasks", headers=AUTH)
    assert missing.status_code == 422
    assert missing.json()["error"] == {
        "code": "invalid_request",
        "message": "the request needs a JSON body",
        "field": "body",
    }


async def test_list_filters_by_state_and_pages(harness: Harness) -> None:
    a = await harness.submit("first")
    await harness.wait_state(a["id"], TaskState.COMPLETED)
    b = await harness.submit("wait second")
    c = await harness.submit("wait third")
    await harness.runtime.wait_started(3)
    cancelled = await harness.post(f"/v1/tasks/{c['id']}/cancel")
    assert cancelled.json()["state"] == "cancelled"

    every = (await harness.get("/v1/tasks")).json()["tasks"]
    assert {t["id"] for t in every} == {a["id"], b["id"], c["id"]}
    response = await harness.client.get(
        "/v1/tasks", params=[("state", "completed"), ("state", "cancelled")], headers=AUTH
    )
    assert {t["id"] for t in response.json()["tasks"]} == {a["id"], c["id"]}
    running = (await harness.get("/v1/tasks", state="running")).json()["tasks"]
    assert [t["id"] for t in running] == [b["id"]]
    page = (await harness.get("/v1/tasks", limit=2, offset=0)).json()["tasks"]
    rest = (await harness.get("/v1/tasks", limit=2, offset=2)).json()["tasks"]
    assert (len(page), len(rest)) == (2, 1)
    assert {t["id"] for t in page + rest} == {a["id"], b["id"], c["id"]}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"state": "sleeping"}, "state"),
        ({"limit": 0}, "limit"),
        ({"offset": -1}, "offset"),
        ({"offset": 2**63}, "offset"),  # past SQLite's integers: bad input, not a 500
    ],
)
async def test_bad_list_parameters_are_422(
    harness: Harness, params: dict[str, object], field: str
) -> None:
    response = await harness.get("/v1/tasks", **params)
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field


async def test_get_one_task_and_unknown_ids_are_404(harness: Harness) -> None:
    task = await harness.submit("wait here")
    got = await harness.get(f"/v1/tasks/{task['id']}")
    assert got.status_code == 200
    assert got.json()["id"] == task["id"]
    for method, path in [
        ("GET", "/v1/tasks/t_missing"),
        ("GET", "/v1/tasks/t_missing/diff"),
        ("GET", "/v1/tasks/t_missing/events"),
        ("POST", "/v1/tasks/t_missing/interrupt"),
        ("POST", "/v1/tasks/t_missing/resume"),
        ("POST", "/v1/tasks/t_missing/cancel"),
    ]:
        response = await harness.client.request(method, path, headers=AUTH)
        assert response.status_code == 404, (method, path)
        error = response.json()["error"]
        assert error["code"] == "not_found"
        assert "t_missing" in error["message"]
    for action in ("steer", "message"):
        response = await harness.post(f"/v1/tasks/t_missing/{action}", {"prompt": "more"})
        assert response.status_code == 404


async def test_interrupt_resume_with_a_prompt_then_complete(harness: Harness) -> None:
    task = await harness.submit("wait a while")
    await harness.runtime.wait_started(1)
    await harness.wait_state(task["id"], TaskState.RUNNING)
    interrupted = await harness.post(f"/v1/tasks/{task['id']}/interrupt")
    assert interrupted.status_code == 200
    assert interrupted.json()["state"] == "interrupted"

    again = await harness.post(f"/v1/tasks/{task['id']}/interrupt")
    assert again.status_code == 409
    error = again.json()["error"]
    assert error["code"] == "invalid_transition"
    assert "actions allowed from interrupted: resume, message, cancel" in error["message"]

    resumed = await harness.post(f"/v1/tasks/{task['id']}/resume", {"prompt": "and finish"})
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "queued"
    assert resumed.json()["pending_message"] == "and finish"
    done = await harness.wait_state(task["id"], TaskState.COMPLETED)
    assert done.final_message == "done: and finish"


async def test_resume_without_a_body(harness: Harness) -> None:
    task = await harness.submit("wait a while")
    await harness.runtime.wait_started(1)
    await harness.wait_state(task["id"], TaskState.RUNNING)
    await harness.post(f"/v1/tasks/{task['id']}/interrupt")
    response = await harness.client.post(f"/v1/tasks/{task['id']}/resume", headers=AUTH)
    assert response.status_code == 200
    assert response.json()["state"] == "queued"


async def test_resuming_a_completed_task_is_409(harness: Harness) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    response = await harness.post(f"/v1/tasks/{task['id']}/resume", {})
    assert response.status_code == 409
    assert "cannot resume" in response.json()["error"]["message"]


async def test_steer_a_running_task_returns_the_task(harness: Harness) -> None:
    task = await harness.submit("wait for steering")
    await harness.runtime.wait_started(1)
    await harness.wait_state(task["id"], TaskState.RUNNING)
    response = await harness.post(f"/v1/tasks/{task['id']}/steer", {"prompt": "look left"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == task["id"]
    assert response.json()["state"] == "running"


async def test_steer_a_task_that_is_not_running_is_409(harness: Harness) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    response = await harness.post(f"/v1/tasks/{task['id']}/steer", {"prompt": "look left"})
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "task_not_running"
    assert "not running a turn" in error["message"]
    empty = await harness.post(f"/v1/tasks/{task['id']}/steer", {"prompt": ""})
    assert empty.status_code == 422
    assert empty.json()["error"]["field"] == "prompt"


async def test_message_a_completed_task_queues_a_follow_up(harness: Harness) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    response = await harness.post(f"/v1/tasks/{task['id']}/message", {"prompt": "and more"})
    assert response.status_code == 200
    assert response.json()["state"] == "queued"
    assert response.json()["pending_message"] == "and more"
    blank = await harness.post(f"/v1/tasks/{task['id']}/message", {"prompt": "  "})
    assert blank.status_code == 422
    assert blank.json()["error"]["field"] == "prompt"


async def test_message_a_queued_task_is_409(harness: Harness) -> None:
    await harness.submit("wait one")
    await harness.submit("wait two")
    queued = await harness.submit("wait three")  # max_concurrent is 2
    response = await harness.post(f"/v1/tasks/{queued['id']}/message", {"prompt": "more"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invalid_transition"


async def test_cancel_then_cancel_again(harness: Harness) -> None:
    task = await harness.submit("wait forever")
    await harness.runtime.wait_started(1)
    first = await harness.post(f"/v1/tasks/{task['id']}/cancel")
    assert first.status_code == 200
    assert first.json()["state"] == "cancelled"
    second = await harness.post(f"/v1/tasks/{task['id']}/cancel")
    assert second.status_code == 409
    assert "the state is final" in second.json()["error"]["message"]


async def test_diff_of_a_worktree_task(harness: Harness) -> None:
    task = await harness.submit("wait then write", cwd=None, repo=str(harness.repo))
    await harness.runtime.wait_started(1)
    worktree = Path(harness.workspaces.root) / task["id"]
    (worktree / "hello.txt").write_text("hi\n")
    harness.runtime.gate.set()
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    response = await harness.get(f"/v1/tasks/{task['id']}/diff")
    assert response.status_code == 200
    diff = response.json()
    assert diff["task_id"] == task["id"]
    assert diff["branch"] == f"codex-runner/{task['id']}"
    assert "hello.txt" in (diff["summary"] or "")
    assert "+hi" in diff["diff"]


async def test_diff_of_a_directory_task_is_empty(harness: Harness) -> None:
    task = await harness.submit("quick")
    response = await harness.get(f"/v1/tasks/{task['id']}/diff")
    assert response.json() == {
        "task_id": task["id"],
        "branch": None,
        "summary": None,
        "diff": "",
        "collected": False,
        "collected_at": None,
    }


async def test_a_path_too_long_for_the_file_system_is_422(harness: Harness) -> None:
    for field in ("cwd", "repo"):
        response = await harness.post("/v1/tasks", {"prompt": "x", field: "/" + "a" * 300})
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field
    assert await harness.service.list_tasks() == []


async def test_a_tasks_turns_are_listed_in_order_with_their_final_messages(
    harness: Harness,
) -> None:
    prompt = "fix it " + "x" * 300
    task = await harness.submit(prompt)
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    await harness.post(f"/v1/tasks/{task['id']}/message", {"prompt": "and the docs"})
    await harness.wait_state(task["id"], TaskState.COMPLETED)

    response = await harness.get(f"/v1/tasks/{task['id']}/turns")
    assert response.status_code == 200, response.text
    body = response.json()
    turns = body["turns"]
    assert [t["number"] for t in turns] == [1, 2]
    assert [t["status"] for t in turns] == ["completed", "completed"]
    assert turns[0]["input_summary"] == prompt[:200]
    assert turns[1]["input_summary"] == "and the docs"
    assert [t["final_message"] for t in turns] == [f"done: {prompt}", "done: and the docs"]
    assert all(t["finished_at"] and t["usage"]["total_tokens"] == 5 for t in turns)
    assert body["current_turn_id"] == turns[1]["id"]
    read = (await harness.get(f"/v1/tasks/{task['id']}")).json()
    assert read["current_turn_id"] == turns[1]["id"]


async def test_a_task_before_its_first_turn_has_no_current_turn(harness: Harness) -> None:
    # The harness runs two tasks at once: two that wait keep the third queued.
    for n in range(2):
        await harness.submit(f"wait {n}")
    task = await harness.submit("fix it later", priority=-5)
    read = (await harness.get(f"/v1/tasks/{task['id']}")).json()
    assert read["state"] == "queued" and read["current_turn_id"] is None
    assert (await harness.get(f"/v1/tasks/{task['id']}/turns")).json()["turns"] == []
    assert (await harness.get("/v1/tasks/t_missing/turns")).status_code == 404
