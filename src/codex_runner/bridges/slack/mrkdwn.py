"""Markdown (what Codex writes) to Slack mrkdwn, and splitting below Slack's size limits.

Slack's mrkdwn is not Markdown: ``*bold*``, ``_italic_``, ``~strike~``, ``<url|text>``,
no headings or tables, and ``&``, ``<``, ``>`` must be escaped. Headings become bold lines,
tables keep their source inside a code block, lists get bullets.
"""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it import MarkdownIt
from markdown_it.token import Token

# Slack truncates a message's text at 40,000 characters and recommends staying under 4,000.
MESSAGE_LIMIT = 3_900
_FENCE = "```"

_md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_mrkdwn(markdown: str) -> str:
    """Slack mrkdwn for a Markdown text."""
    tokens = _md.parse(markdown)
    return "\n\n".join(_blocks(tokens, markdown.splitlines())).strip()


def _closing(tokens: Sequence[Token], start: int) -> int:
    """Index of the token closing ``tokens[start]``."""
    opener = tokens[start]
    close_type = opener.type.removesuffix("_open") + "_close"
    for j in range(start + 1, len(tokens)):
        if tokens[j].type == close_type and tokens[j].level == opener.level:
            return j
    return len(tokens) - 1


def _blocks(tokens: Sequence[Token], source: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "paragraph_open":
            out.append(_inline(tokens[i + 1].children or []))
            i += 3
        elif tok.type == "heading_open":
            text = _inline(tokens[i + 1].children or [])
            out.append(f"*{text}*" if text else "")
            i += 3
        elif tok.type in ("fence", "code_block"):
            out.append(f"{_FENCE}\n{escape(tok.content.rstrip(chr(10)))}\n{_FENCE}")
            i += 1
        elif tok.type == "hr":
            out.append("──────────")
            i += 1
        elif tok.type == "html_block":
            out.append(escape(tok.content.rstrip("\n")))
            i += 1
        elif tok.type == "blockquote_open":
            end = _closing(tokens, i)
            inner = "\n\n".join(_blocks(tokens[i + 1 : end], source))
            out.append("\n".join("> " + line for line in inner.split("\n")))
            i = end + 1
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            end = _closing(tokens, i)
            out.append(_list(tokens[i : end + 1], source))
            i = end + 1
        elif tok.type == "table_open":
            end = _closing(tokens, i)
            first, last = tok.map or (0, 0)
            table = "\n".join(source[first:last])
            out.append(f"{_FENCE}\n{escape(table)}\n{_FENCE}")
            i = end + 1
        else:
            i += 1
    return out


def _list(tokens: Sequence[Token], source: list[str]) -> str:
    opener = tokens[0]
    ordered = opener.type == "ordered_list_open"
    number = int(opener.attrs.get("start", 1) or 1) if ordered else 0
    lines: list[str] = []
    i = 1
    while i < len(tokens) - 1:
        if tokens[i].type != "list_item_open":
            i += 1
            continue
        end = _closing(tokens, i)
        body = "\n".join(_blocks(tokens[i + 1 : end], source)).split("\n")
        marker = f"{number}. " if ordered else "• "
        number += 1
        lines.append(marker + body[0])
        lines.extend("    " + line if line else line for line in body[1:])
        i = end + 1
    return "\n".join(lines)


def _inline(children: Sequence[Token]) -> str:
    parts: list[str] = []
    link_stack: list[tuple[str, int]] = []
    for tok in children:
        kind = tok.type
        if kind == "text":
            parts.append(escape(tok.content))
        elif kind == "softbreak" or kind == "hardbreak":
            parts.append("\n")
        elif kind == "code_inline":
            parts.append(f"`{escape(tok.content)}`")
        elif kind in ("strong_open", "strong_close"):
            parts.append("*")
        elif kind in ("em_open", "em_close"):
            parts.append("_")
        elif kind in ("s_open", "s_close"):
            parts.append("~")
        elif kind == "link_open":
            link_stack.append((str(tok.attrs.get("href", "")), len(parts)))
        elif kind == "link_close" and link_stack:
            href, start = link_stack.pop()
            text = "".join(parts[start:])
            del parts[start:]
            if not href:
                parts.append(text)
            elif text in (href, escape(href)) or not text:
                parts.append(f"<{href}>")
            else:
                parts.append(f"<{href}|{text.replace('|', '¦')}>")
        elif kind == "image":
            src = str(tok.attrs.get("src", ""))
            alt = escape(tok.content) or src
            parts.append(f"<{src}|{alt}>" if src else alt)
        elif kind == "html_inline":
            parts.append(escape(tok.content))
    return "".join(parts)


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """``text`` in pieces of at most ``limit`` characters, cut at paragraph, line or word
    boundaries where possible; a code block cut in two is closed and reopened."""
    if limit < 20:
        raise ValueError("limit must be at least 20 characters")
    pieces: list[str] = []
    rest = text
    reopen = False
    while rest:
        prefix = _FENCE + "\n" if reopen else ""
        budget = limit - len(prefix)
        if len(rest) <= budget:
            pieces.append(prefix + rest)
            break
        cut = _cut_point(rest, budget - len("\n" + _FENCE))
        piece, rest = rest[:cut].rstrip("\n"), rest[cut:].lstrip("\n")
        in_fence = (reopen + piece.count(_FENCE)) % 2 == 1
        if in_fence:
            piece += "\n" + _FENCE
        pieces.append(prefix + piece)
        reopen = in_fence
    return [p for p in pieces if p.strip()]


def _cut_point(text: str, budget: int) -> int:
    window = text[:budget]
    for sep in ("\n\n", "\n", " "):
        at = window.rfind(sep)
        if at > budget // 2:
            return at + len(sep)
    return budget
