"""A turn's input items: text, an image in the workspace, an uploaded image."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from codex_runner.service.errors import InvalidRequest
from codex_runner.service.turn_inputs import InputItem, turn_input

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def test_items_become_one_text_and_absolute_image_paths(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    (workspace / "docs").mkdir(parents=True)
    (workspace / "docs" / "shot.png").write_bytes(PNG)
    uploads = tmp_path / "uploads"
    items = [
        InputItem("text", text="look at these"),
        InputItem("local_image", path="docs/shot.png"),
        InputItem("image", data=base64.b64encode(PNG).decode(), media_type="image/png"),
        InputItem("text", text="and say what differs"),
    ]
    given = turn_input(items, workspace, uploads)
    assert given.text == "look at these\n\nand say what differs"
    local, uploaded = given.images
    assert local == str((workspace / "docs" / "shot.png").resolve())
    assert Path(uploaded).parent == uploads and Path(uploaded).read_bytes() == PNG
    # The same upload again is the same file, stored once.
    assert turn_input(items, workspace, uploads).images[1] == uploaded
    assert len(list(uploads.iterdir())) == 1


@pytest.mark.parametrize(
    ("items", "problem"),
    [
        ([], "input is empty"),
        ([InputItem("local_image", path="../out.png")], "outside"),
        ([InputItem("image", data="AA==", media_type="image/png")], "no text item"),
        ([InputItem("text", text=" ")], "non-empty text"),
        ([InputItem("text", text="x"), InputItem("local_image", path="../out.png")], "outside"),
        ([InputItem("text", text="x"), InputItem("local_image", path="none.png")], "not a file"),
        (
            [InputItem("text", text="x"), InputItem("image", data="!!", media_type="image/png")],
            "base64",
        ),
        (
            [InputItem("text", text="x"), InputItem("image", data="AA==", media_type="text/x")],
            "media_type",
        ),
        ([InputItem("video", text="x")], "not text, local_image or image"),
    ],
)
def test_bad_items_are_refused_naming_the_item(
    tmp_path: Path, items: list[InputItem], problem: str
) -> None:
    (tmp_path / "out.png").write_bytes(PNG)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    with pytest.raises(InvalidRequest, match=problem) as caught:
        turn_input(items, workspace, tmp_path / "uploads")
    assert caught.value.field == "input"
    assert not (tmp_path / "uploads").exists()  # nothing written for a refused input


def test_without_an_uploads_folder_images_are_taken_by_path_only(tmp_path: Path) -> None:
    items = [InputItem("text", text="x"), InputItem("image", data="AA==", media_type="image/png")]
    with pytest.raises(InvalidRequest, match="no uploads"):
        turn_input(items, tmp_path, None)
