"""The raw slack-events log layer: every incoming envelope, with secrets redacted."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from codex_runner.logs import LogLayout, LogWriter, RawLayer

from .conftest import Factory
from .fake_slack import BOT_USER_ID

pytestmark = pytest.mark.acceptance

C = "C0GENERAL"
CANARY = "sk-canary0123456789abcdef"


async def test_incoming_events_are_logged_raw_with_a_canary_secret_redacted(
    harness: Factory, tmp_path: Path
) -> None:
    writer = LogWriter()
    layer = RawLayer("slack-events", LogLayout(tmp_path / "logs"), writer, max_bytes=64 * 1024)
    try:
        async with harness(raw_events=layer) as h:
            root = await h.slack.say(C, "U1", f"<@{BOT_USER_ID}> my key is {CANARY}")
            await h.slack.wait_for(lambda: h.slack.bot_posts(C, root["ts"]))
        assert writer.flush()
    finally:
        writer.close()
    files = sorted((tmp_path / "logs" / "raw" / "slack-events").glob("*.jsonl"))
    text = "".join(f.read_text() for f in files)
    assert CANARY not in text
    bodies = [orjson.loads(line)["body"] for line in text.splitlines()]
    events = [b["event"] for b in bodies if isinstance(b.get("event"), dict)]
    assert any("my key is [redacted]" in str(e.get("text")) for e in events)
