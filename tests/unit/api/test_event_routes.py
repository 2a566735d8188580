from __future__ import annotations

from codex_runner.domain.task import TaskState

from .conftest import Harness


async def test_events_page_and_last_seq(harness: Harness) -> None:
    task = await harness.submit("quick")
    await harness.wait_state(task["id"], TaskState.COMPLETED)
    every = (await harness.get(f"/v1/tasks/{task['id']}/events")).json()
    seqs = [e["seq"] for e in every["events"]]
    assert seqs == list(range(1, len(seqs) + 1))
    assert every["last_seq"] == seqs[-1]
    assert every["events"][0]["type"] == "task.created"
    assert every["events"][0]["task_id"] == task["id"]

    first = (await harness.get(f"/v1/tasks/{task['id']}/events", limit=2)).json()
    assert [e["seq"] for e in first["events"]] == [1, 2]
    after = first["last_seq"]
    rest = (await harness.get(f"/v1/tasks/{task['id']}/events", after=after)).json()
    assert [e["seq"] for e in rest["events"]] == seqs[2:]
    beyond = (await harness.get(f"/v1/tasks/{task['id']}/events", after=999)).json()
    assert beyond == {"events": [], "last_seq": 999}


async def test_events_of_an_unknown_task_are_404(harness: Harness) -> None:
    assert (await harness.get("/v1/tasks/t_missing/events")).status_code == 404
    assert (await harness.get("/v1/tasks/t_missing/events/stream")).status_code == 404


async def test_bad_event_parameters_are_422(harness: Harness) -> None:
    task = await harness.submit("quick")
    for params, field in [
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),
        ({"limit": 0}, "limit"),
    ]:
        response = await harness.get(f"/v1/tasks/{task['id']}/events", **params)
        assert response.status_code == 422
        assert response.json()["error"]["field"] == field
