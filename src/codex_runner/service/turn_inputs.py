"""A turn's input as a list of items: text, an image in the workspace, an uploaded image.

Codex takes text and local image files. An image in the workspace is named by a path
relative to it (or absolute, inside it) and checked to be a file there; an uploaded image
(base64 bytes) is kept in the runner's uploads folder under its digest, so a repeated upload
is stored once and a turn's image outlives the request that carried it. What the runner
stores and hands Codex is then the turn's text and a list of absolute image paths.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from codex_runner.service.errors import InvalidRequest

MAX_ITEMS = 32
MAX_IMAGE_BYTES = 20 * 1024 * 1024
# Media types the model takes, with the suffix the stored file gets (Codex reads it by name).
IMAGE_TYPES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
}


@dataclass(frozen=True)
class InputItem:
    """One item as a caller sent it: ``text``, ``local_image`` (``path``) or ``image``
    (``data``: base64, with ``media_type``)."""

    type: str
    text: str | None = None
    path: str | None = None
    data: str | None = None
    media_type: str | None = None


@dataclass(frozen=True)
class TurnInput:
    text: str
    images: tuple[str, ...] = ()  # absolute paths


def turn_input(items: Sequence[InputItem], workspace: Path, uploads: Path | None) -> TurnInput:
    """The items as one text and image paths; InvalidRequest (field ``input``) names the
    item at fault. Nothing is written unless every item is sound."""
    if not items:
        raise InvalidRequest("input", "input is empty: give at least one text item")
    if len(items) > MAX_ITEMS:
        raise InvalidRequest("input", f"input has at most {MAX_ITEMS} items")
    texts: list[str] = []
    local: list[str] = []
    uploaded: list[tuple[bytes, str]] = []
    for index, item in enumerate(items):
        where = f"input[{index}]"
        if item.type == "text":
            if not item.text or not item.text.strip():
                raise InvalidRequest("input", f"{where}: a text item needs non-empty text")
            texts.append(item.text)
        elif item.type == "local_image":
            local.append(_workspace_image(where, item.path, workspace))
        elif item.type == "image":
            uploaded.append(_decoded(where, item))
        else:
            raise InvalidRequest(
                "input", f"{where}: type {item.type!r} is not text, local_image or image"
            )
    if not texts:
        raise InvalidRequest("input", "input has no text item: say what the turn should do")
    stored = [_store(uploads, data, suffix) for data, suffix in uploaded]
    return TurnInput("\n\n".join(texts), tuple(local + stored))


def _workspace_image(where: str, path: str | None, workspace: Path) -> str:
    if not path:
        raise InvalidRequest("input", f"{where}: a local_image item needs a path")
    root = os.path.realpath(workspace)
    full = os.path.realpath(os.path.join(root, path))
    if os.path.commonpath([root, full]) != root:
        raise InvalidRequest(
            "input", f"{where}: image {path!r} is outside the workspace; upload it instead"
        )
    if not os.path.isfile(full):
        raise InvalidRequest("input", f"{where}: image {path!r} is not a file in {root}")
    return full


def _decoded(where: str, item: InputItem) -> tuple[bytes, str]:
    suffix = IMAGE_TYPES.get(item.media_type or "")
    if suffix is None:
        raise InvalidRequest(
            "input", f"{where}: media_type must be one of {', '.join(IMAGE_TYPES)}"
        )
    if not item.data:
        raise InvalidRequest("input", f"{where}: an image item needs data (base64 bytes)")
    if len(item.data) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise InvalidRequest("input", f"{where}: an image is at most {MAX_IMAGE_BYTES} bytes")
    try:
        data = base64.b64decode(item.data, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidRequest("input", f"{where}: data is not base64") from None
    return data, suffix


def _store(uploads: Path | None, data: bytes, suffix: str) -> str:
    if uploads is None:
        raise InvalidRequest("input", "this runner keeps no uploads: send images by path")
    path = uploads / f"{hashlib.sha256(data).hexdigest()[:40]}{suffix}"
    if not path.exists():
        uploads.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_suffix(path.suffix + ".part")
        partial.write_bytes(data)
        os.replace(partial, path)  # whole or absent, never half-written
    return str(path)
