from __future__ import annotations

from codex_runner.domain.task import TaskState

from .conftest import Harness


async def _asking_task(harness: Harness) -> tuple[str, str]:
    task = await harness.submit("ask first")
    approval_id = await harness.pending_approval(task["id"])
    await harness.wait_state(task["id"], TaskState.AWAITING_APPROVAL)
    return task["id"], approval_id


async def test_pending_approvals_are_listed_and_filtered_by_task(harness: Harness) -> None:
    task_id, approval_id = await _asking_task(harness)
    listed = (await harness.get("/v1/approvals")).json()["approvals"]
    assert [a["id"] for a in listed] == [approval_id]
    approval = listed[0]
    assert approval["task_id"] == task_id
    assert approval["state"] == "pending"
    assert approval["command"] == "rm -rf build"
    assert approval["available_decisions"] == ["accept", "decline"]
    same = (await harness.get("/v1/approvals", state="pending", task_id=task_id)).json()
    assert [a["id"] for a in same["approvals"]] == [approval_id]
    other = (await harness.get("/v1/approvals", task_id="t_other")).json()
    assert other["approvals"] == []
    one = await harness.get(f"/v1/approvals/{approval_id}")
    assert one.json()["id"] == approval_id


async def test_only_pending_approvals_can_be_listed(harness: Harness) -> None:
    response = await harness.get("/v1/approvals", state="decided")
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "state"


async def test_decide_once_then_the_task_completes(harness: Harness) -> None:
    task_id, approval_id = await _asking_task(harness)
    offered = await harness.post(f"/v1/approvals/{approval_id}", {"decision": "maybe"})
    assert offered.status_code == 422
    error = offered.json()["error"]
    assert (error["code"], error["field"]) == ("decision_not_offered", "decision")
    assert "choose one of: accept, decline" in error["message"]

    decided = await harness.post(f"/v1/approvals/{approval_id}", {"decision": "accept"})
    assert decided.status_code == 200
    body = decided.json()
    assert (body["state"], body["decision"], body["decided_by"]) == ("decided", "accept", "api")

    again = await harness.post(f"/v1/approvals/{approval_id}", {"decision": "decline", "by": "bob"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "approval_settled"
    assert "already decided" in again.json()["error"]["message"]
    done = await harness.wait_state(task_id, TaskState.COMPLETED)
    assert done.final_message == "done: ask first (accept)"
    assert (await harness.get("/v1/approvals")).json()["approvals"] == []


async def test_the_decider_is_recorded(harness: Harness) -> None:
    _, approval_id = await _asking_task(harness)
    body = {"decision": "decline", "by": "alice"}
    decided = await harness.post(f"/v1/approvals/{approval_id}", body)
    assert decided.json()["decided_by"] == "alice"


async def test_unknown_approval_is_404(harness: Harness) -> None:
    assert (await harness.get("/v1/approvals/a_missing")).status_code == 404
    response = await harness.post("/v1/approvals/a_missing", {"decision": "accept"})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_decision_needs_a_body(harness: Harness) -> None:
    _, approval_id = await _asking_task(harness)
    response = await harness.post(f"/v1/approvals/{approval_id}", {})
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "decision"
