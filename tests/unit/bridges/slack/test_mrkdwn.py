from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from codex_runner.bridges.slack.mrkdwn import split_message, to_mrkdwn


def test_inline_styles_links_and_escapes() -> None:
    md = "**bold** *it* ~~gone~~ `a<b` [docs](https://x.io) <https://y.io> & 1 < 2"
    assert to_mrkdwn(md) == (
        "*bold* _it_ ~gone~ `a&lt;b` <https://x.io|docs> <https://y.io> &amp; 1 &lt; 2"
    )


def test_blocks() -> None:
    md = (
        "# Title\n\ntext\n\n- one\n- two\n  - nested\n\n1. first\n2. second\n\n"
        "> quoted\n\n```py\nx = 1 < 2\n```"
    )
    assert to_mrkdwn(md) == (
        "*Title*\n\ntext\n\n• one\n• two\n    • nested\n\n1. first\n2. second\n\n"
        "> quoted\n\n```\nx = 1 &lt; 2\n```"
    )


def test_tables_keep_their_source_in_a_code_block() -> None:
    md = "| a | b |\n|---|---|\n| 1 | 2 |"
    assert to_mrkdwn(md) == "```\n| a | b |\n|---|---|\n| 1 | 2 |\n```"


def test_short_text_is_one_piece() -> None:
    assert split_message("hello", 100) == ["hello"]


def test_split_closes_and_reopens_code_blocks() -> None:
    text = "para one\n\n" + "```\n" + "\n".join(f"line {i}" for i in range(40)) + "\n```\n\nend"
    pieces = split_message(text, 100)
    assert all(len(p) <= 100 for p in pieces)
    assert pieces[0].startswith("para one\n\n```")  # pieces are filled, not one per paragraph
    assert pieces[-1].endswith("end")
    for piece in pieces:
        assert piece.count("```") % 2 == 0  # every piece's code block is closed
    rejoined = "".join(p.replace("```\n", "").replace("\n```", "") for p in pieces)
    assert all(f"line {i}" in rejoined for i in range(40))


@given(st.text(min_size=1, max_size=3000), st.integers(min_value=20, max_value=400))
def test_split_never_exceeds_the_limit_or_loses_words(text: str, limit: int) -> None:
    pieces = split_message(text, limit)
    assert all(len(p) <= limit for p in pieces)
    if "```" not in text:  # nothing but whitespace is lost
        assert "".join("".join(pieces).split()) == "".join(text.split())
