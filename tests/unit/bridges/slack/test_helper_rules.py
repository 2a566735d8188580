from __future__ import annotations

import base64
from pathlib import Path

import pytest

from codex_runner.bridges.slack.helper_rules import (
    MAX_FILE_BYTES,
    HelperRefused,
    clamp_limit,
    decode_content,
    file_in_workspace,
    history_entries,
)


def test_files_must_resolve_inside_the_workspace(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    (ws / "sub").mkdir(parents=True)
    (ws / "sub" / "a.txt").write_text("a")
    (tmp_path / "outside.txt").write_text("x")
    (ws / "inner-link").symlink_to(ws / "sub" / "a.txt")
    (ws / "outer-link").symlink_to(tmp_path / "outside.txt")
    assert file_in_workspace(ws, "sub/a.txt") == (ws / "sub" / "a.txt").resolve()
    assert file_in_workspace(ws, "inner-link") == (ws / "sub" / "a.txt").resolve()
    assert file_in_workspace(ws, str(ws / "sub" / "a.txt")).name == "a.txt"
    for bad in (
        "../outside.txt",
        "sub/../../outside.txt",
        "outer-link",
        str(tmp_path / "outside.txt"),
    ):
        with pytest.raises(HelperRefused) as err:
            file_in_workspace(ws, bad)
        assert err.value.status == 403
    with pytest.raises(HelperRefused) as err:
        file_in_workspace(ws, "sub")
    assert err.value.status == 400


def test_content_is_capped_and_names_are_made_safe() -> None:
    data, name = decode_content(base64.b64encode(b"hi").decode(), "../../etc/passwd")
    assert (data, name) == (b"hi", "passwd")
    with pytest.raises(HelperRefused) as err:
        decode_content("not base64!", "x")
    assert err.value.status == 400
    with pytest.raises(HelperRefused) as err:
        decode_content("A" * (MAX_FILE_BYTES * 2), "x")
    assert err.value.status == 413


def test_history_limit_is_clamped_and_filtered_by_before_ts() -> None:
    assert (clamp_limit(None), clamp_limit(0), clamp_limit(10_000)) == (50, 1, 200)
    messages = [{"ts": f"{i}.000001", "user": "U1", "text": f"m{i} <@U2>"} for i in range(1, 6)]
    entries = history_entries(
        messages, before_ts="4.000001", limit=2, names={"U1": "Ann", "U2": "Bob"}
    )
    assert [(e["name"], e["text"]) for e in entries] == [("Ann", "m2 @Bob"), ("Ann", "m3 @Bob")]
