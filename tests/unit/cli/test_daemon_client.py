"""Finding the daemon, the token, and what a user sees when either is wrong."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from codex_runner.cli import event_stream
from codex_runner.cli.client import DaemonClient
from codex_runner.cli.daemon_errors import ClientError, DaemonLost
from codex_runner.cli.event_stream import sse_data, sse_messages
from codex_runner.domain.delta import Delta, DeltaKind
from codex_runner.domain.task import TaskState
from codex_runner.http.wire import EventOut

from .conftest import (
    TOKEN,
    FakeDaemon,
    StreamPlan,
    event_out,
    free_port,
    make_cli,
    make_home,
    one_error_line,
    task_out,
)


def test_the_url_comes_from_the_flag_then_the_environment_then_daemon_json_then_config(
    fake: FakeDaemon, tmp_path: Path
) -> None:
    fake.add_task(task_out("t_a"))
    dead = f"http://127.0.0.1:{free_port()}"
    # --url wins over daemon.json
    home = make_home(tmp_path / "a", url=dead)
    assert make_cli(home)("task", "show", "t_a", "--url", fake.url).exit_code == 0
    # $CODEX_RUNNER_URL wins over daemon.json
    env = {"CODEX_RUNNER_URL": fake.url}
    assert make_cli(home)("task", "show", "t_a", env=env).exit_code == 0
    # daemon.json naming a live process
    home = make_home(tmp_path / "b", url=fake.url)
    assert make_cli(home)("task", "show", "t_a").exit_code == 0
    # no daemon.json: [service] host and port from config.toml
    home = make_home(tmp_path / "c")
    port = fake.url.rsplit(":", 1)[1]
    (home / "config.toml").write_text(f'[service]\nhost = "127.0.0.1"\nport = {port}\n')
    assert make_cli(home)("task", "show", "t_a").exit_code == 0


def test_a_daemon_that_is_not_running_is_one_clear_line_and_exit_1(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    home = make_home(tmp_path / "home")
    result = make_cli(home)("task", "list", "--url", url)
    assert result.exit_code == 1
    assert one_error_line(result) == (
        f"error: cannot reach the daemon at {url}: start it with `codex-runner serve`"
    )


def test_a_missing_token_file_says_how_to_get_one(fake: FakeDaemon, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", url=fake.url, token=None)
    result = make_cli(home)("approvals", "list")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"no API token at {home / 'api-token'}" in line
    assert "codex-runner serve" in line
    assert fake.requests == []


def test_a_token_file_others_can_read_is_refused(fake: FakeDaemon, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", url=fake.url)
    os.chmod(home / "api-token", 0o644)
    result = make_cli(home)("gc")
    assert result.exit_code == 1
    assert f"run: chmod 600 {home / 'api-token'}" in one_error_line(result)


def test_a_wrong_token_is_the_daemons_message(fake: FakeDaemon, tmp_path: Path) -> None:
    home = make_home(tmp_path / "home", url=fake.url, token="not-the-token")
    result = make_cli(home)("task", "list")
    assert result.exit_code == 1
    assert one_error_line(result) == "error: missing or wrong bearer token"


def test_following_gives_up_after_bounded_reconnects(
    fake: FakeDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_stream, "RECONNECT_BASE_DELAY_S", 0.001)
    events = [event_out("t_a", n, "task.created", {}) for n in (1, 2, 3)]
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), events)
    fake.plans["t_a"] = StreamPlan(drop_after=1, always_drop=True)
    seen: list[int] = []
    lost = r"while following task t_a \(4 failed attempts in a row"
    with (
        DaemonClient(fake.url, TOKEN, max_reconnects=3) as client,
        pytest.raises(DaemonLost, match=lost),
    ):
        for event in client.follow_events("t_a"):
            seen.append(event.seq)
    assert seen == [1]
    assert [s["last_event_id"] for s in fake.streams] == ["0", "1", "1", "1"]


def test_following_a_task_that_does_not_exist_fails_at_once(fake: FakeDaemon) -> None:
    with (
        DaemonClient(fake.url, TOKEN) as client,
        pytest.raises(ClientError, match="no task t_nope") as err,
    ):
        list(client.follow_events("t_nope"))
    assert err.value.status == 404
    assert err.value.code == "not_found"


def test_sse_parsing_skips_comments_and_joins_multiline_data() -> None:
    lines = [
        ": keepalive",
        "",
        "id: 1",
        "event: task.created",
        "data: {",
        'data: "a": 1}',
        "",
        "retry: 1000",
        "",
        "data: cut off",
    ]
    assert list(sse_data(iter(lines))) == ['{\n"a": 1}']


def test_resumed_events_are_models(fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING))
    with DaemonClient(fake.url, TOKEN) as client:
        events = list(client.follow_events("t_a"))
    assert [type(e) for e in events] == [EventOut]


def test_sse_messages_carry_their_event_names() -> None:
    lines = [
        "id: 1",
        "event: task.created",
        "data: {}",
        "",
        "event: codex.delta",
        'data: {"item_id": "m1", "kind": "agent_message", "text": "Hi"}',
        "",
        "data: unnamed",
        "",
    ]
    assert list(sse_messages(iter(lines))) == [
        ("task.created", "{}"),
        ("codex.delta", '{"item_id": "m1", "kind": "agent_message", "text": "Hi"}'),
        ("message", "unnamed"),
    ]


def test_following_with_deltas_yields_them_between_the_events_and_never_counts_them(
    fake: FakeDaemon,
) -> None:
    events = [event_out("t_a", n, "task.created", {}) for n in (1, 2)]
    fake.add_task(task_out("t_a", state=TaskState.RUNNING), events)
    fake.deltas["t_a"] = {1: [{"item_id": "m1", "kind": "agent_message", "text": "Hi"}]}
    with DaemonClient(fake.url, TOKEN) as client:
        got = list(event_stream.follow_live(client, "t_a"))
        plain = list(client.follow_events("t_a"))
    assert got[0] == events[0] and got[2] == events[1]
    assert got[1] == Delta("m1", DeltaKind.AGENT_MESSAGE, "Hi")
    assert plain == events
    assert [s["deltas"] for s in fake.streams] == [True, False]


def test_a_delta_this_client_cannot_read_is_a_clear_error(fake: FakeDaemon) -> None:
    fake.add_task(task_out("t_a", state=TaskState.RUNNING))
    fake.deltas["t_a"] = {1: [{"item_id": "m1", "kind": "hologram", "text": "?"}]}
    with (
        DaemonClient(fake.url, TOKEN) as client,
        pytest.raises(ClientError, match=r"cannot read .* are the versions the same"),
    ):
        list(event_stream.follow_live(client, "t_a"))
