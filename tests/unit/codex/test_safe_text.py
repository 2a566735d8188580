"""Text from Codex's stderr and error messages is shown without controls, keys or excess."""

from __future__ import annotations

import pytest

from codex_runner.codex.safe_text import (
    REDACTED,
    TRUNCATED,
    bounded,
    mask_secrets,
    safe_text,
    strip_terminal_controls,
)

# A line as Codex 0.163's app-server writes it to stderr (tracing with colours).
CODEX_STDERR_LINE = (
    "\x1b[2m2026-12-03T11:41:52.282086Z\x1b[0m \x1b[31mERROR\x1b[0m \x1b[2mcodex_app_server"
    "\x1b[0m\x1b[2m:\x1b[0m Codex could not find bubblewrap on PATH."
)


def test_colours_are_stripped_from_a_real_codex_log_line() -> None:
    assert strip_terminal_controls(CODEX_STDERR_LINE) == (
        "2026-12-03T11:41:52.282086Z ERROR codex_app_server: "
        "Codex could not find bubblewrap on PATH."
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("\x1b[1;38;5;196mred\x1b[m", "red"),  # 256-colour SGR, bare reset
        ("\x1b[38;2;255;0;0mtrue colour\x1b[39m", "true colour"),
        ("up\x1b[2Aleft\x1b[10D\x1b[Kcleared", "upleftcleared"),  # cursor moves, erase line
        ("\x1b[?25lhidden cursor\x1b[?25h", "hidden cursor"),  # private-mode CSI
        ("\x9b31m8-bit CSI", "8-bit CSI"),
        (
            "see \x1b]8;;https://example.com/docs\x1b\\the docs\x1b]8;;\x1b\\ now",
            "see the docs now",
        ),
        ("\x1b]8;;https://x.test\x07bel link\x1b]8;;\x07", "bel link"),  # OSC 8 ended by BEL
        ("\x1b]0;window title\x07text", "text"),  # OSC title
        ("\x1bPdevice control\x1b\\after", "after"),  # DCS
        ("\x1b7saved\x1b8 \x1b(Bcharset", "saved charset"),  # ESC 7/8, charset designation
        ("progress 10%\rprogress 99%", "progress 10%progress 99%"),  # carriage return
        ("bell\x07 nul\x00 del\x7f backspace\x08", "bell nul del backspace"),
        ("lone escape at the end\x1b", "lone escape at the end"),
        ("tabs\tand\nnewlines stay", "tabs\tand\nnewlines stay"),
        ("plain text, ünïcode and “quotes”", "plain text, ünïcode and “quotes”"),
    ],
)
def test_terminal_controls_are_stripped(raw: str, clean: str) -> None:
    assert strip_terminal_controls(raw) == clean


def test_an_unterminated_osc_stops_at_the_line_end() -> None:
    assert strip_terminal_controls("\x1b]8;;https://x.test\nnext line") == "\nnext line"


@pytest.mark.parametrize(
    "secret",
    [
        "sk-abcdefghijklmnop1234",
        "sk-proj-AbC_dEf-1234567890",
        "Bearer abcdefghijkl.mnop",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.c2lnbmF0dXJl",
    ],
)
def test_keys_and_bearer_tokens_are_masked(secret: str) -> None:
    masked = mask_secrets(f'{{"error":{{"message":"bad key {secret} given"}}}}')
    assert secret not in masked and REDACTED in masked
    assert masked.startswith('{"error":{"message":"bad key ')


def test_ordinary_words_are_not_masked() -> None:
    text = "task-runner sk-short bearer of news"
    assert mask_secrets(text) == text


def test_bounded_cuts_and_says_so() -> None:
    assert bounded("short", 10) == "short"
    cut = bounded("x" * 100, 40)
    assert len(cut) == 40 and cut.endswith(TRUNCATED)


def test_safe_text_masks_a_key_before_cutting_so_no_head_of_it_survives() -> None:
    key = "sk-" + "a" * 40
    text = safe_text("\x1b[31m" + "b" * 20 + " " + key + "\x1b[0m", limit=40)
    assert "aaaa" not in text and "\x1b" not in text and len(text) <= 40
