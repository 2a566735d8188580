"""Text Codex wrote, made safe to show: terminal controls stripped, secrets masked, bounded.

Codex colours its stderr log lines and may print links (OSC 8) and cursor moves; a model
provider's error body can echo an API key. Anything taken from Codex's stderr or error
messages passes through here before it becomes a failure reason, an event field or part of
``/v1/status``.
"""

from __future__ import annotations

import re

# What API keys and bearer tokens look like: one pattern for these texts and the logs.
from codex_runner.logs.redaction import REDACTED, SECRET_TEXT

TRUNCATED = "…[truncated]"

# ECMA-48 control sequences, then any other C0/C1 control except newline and tab.
_TERMINAL_CONTROLS = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]                   # CSI: colours, cursor moves
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f])                  # OSC (links, titles), DCS, SOS,
      [^\x07\x1b\x9c\n]* (?:\x07|\x1b\\|\x9c)?              #   PM, APC up to BEL or ST
    | \x1b [ -/]* [0-~]                                     # other escapes (ESC 7, ESC ( B)
    | [\x00-\x08\x0b-\x1f\x7f-\x9f]                         # other controls, CR included
    """,
    re.VERBOSE,
)


def strip_terminal_controls(text: str) -> str:
    """``text`` without escape sequences or control characters (newlines and tabs stay);
    the text of an OSC 8 link stays, its target goes."""
    return _TERMINAL_CONTROLS.sub("", text)


def mask_secrets(text: str) -> str:
    """``text`` with anything that looks like an API key or bearer token replaced."""
    return SECRET_TEXT.sub(REDACTED, text)


def bounded(text: str, limit: int) -> str:
    """At most ``limit`` characters, saying so when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(TRUNCATED))] + TRUNCATED


def safe_text(text: str, limit: int = 2000) -> str:
    """Codex's ``text`` as it may be shown: controls stripped, secrets masked, bounded.

    Secrets are masked before the text is cut, so that a cut cannot leave a key's head
    too short to be recognised.
    """
    return bounded(mask_secrets(strip_terminal_controls(text)), limit).strip()
