"""The Phoenix Channels v2 wire: the socket URL, frames, and keeping the token out of text.

A v2 frame is the JSON array ``[join_ref, ref, topic, event, payload]``. The token is a query
parameter of the socket URL, so anything that may print the URL (an exception, the library's
debug log) goes through :class:`TokenRedactor` first.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

SERIALIZER_VSN = "2.0.0"
PHOENIX_TOPIC = "phoenix"  # the socket's own topic: heartbeats
REDACTED = "[redacted]"

Frame = tuple[str | None, str | None, str, str, dict[str, Any]]


def socket_url(url: str, token: str) -> str:
    """``{url}/websocket?vsn=2.0.0&token=...`` for a socket base URL like ``wss://h/socket``."""
    if not token or token != token.strip():
        raise ValueError(
            "the link token is empty or has spaces around it; "
            "set CODEX_RUNNER_LINK_TOKEN or the token_file"
        )
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise ValueError(
            f"the link url {url.replace(token, REDACTED)!r} is not a WebSocket URL; "
            "give the socket's base, like wss://chat.example/socket"
        )
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in ("vsn", "token")]
    query += [("vsn", SERIALIZER_VSN), ("token", token)]
    path = parts.path.rstrip("/") + "/websocket"
    return urlunsplit((parts.scheme, parts.netloc, path, urlencode(query), ""))


def encode_frame(
    join_ref: str | None, ref: str | None, topic: str, event: str, payload: Mapping[str, Any]
) -> str:
    return json.dumps([join_ref, ref, topic, event, payload], separators=(",", ":"))


def decode_frame(raw: str | bytes) -> Frame | str:
    """The frame, or a sentence saying why ``raw`` is not one (the reader logs it, goes on)."""
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        return f"not JSON ({exc}): {_excerpt(raw)}"
    if not isinstance(value, list) or len(value) != 5:
        return f"not a [join_ref, ref, topic, event, payload] array: {_excerpt(raw)}"
    join_ref, ref, topic, event, payload = value
    if not all(isinstance(r, str | None) for r in (join_ref, ref)):
        return f"join_ref and ref must be strings or null: {_excerpt(raw)}"
    if not isinstance(topic, str) or not isinstance(event, str):
        return f"topic and event must be strings: {_excerpt(raw)}"
    if not isinstance(payload, dict):
        return f"the payload must be an object: {_excerpt(raw)}"
    return join_ref, ref, topic, event, payload


def _excerpt(raw: str | bytes, limit: int = 200) -> str:
    text = raw if isinstance(raw, str) else raw.decode("utf-8", "replace")
    return text if len(text) <= limit else text[:limit] + "..."


class TokenRedactor:
    """Replaces the token (raw and URL-quoted) in text, and makes loggers that do it too."""

    def __init__(self, token: str) -> None:
        self._forms = sorted({token, quote(token, safe=""), quote_plus(token)}, key=len)[::-1]

    def redact(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text

    def logger(self, name: str) -> logging.LoggerAdapter[logging.Logger]:
        """A logger for the library: it logs the request line, which carries the token."""
        return _RedactingAdapter(logging.getLogger(name), self)


class _RedactingAdapter(logging.LoggerAdapter[logging.Logger]):
    def __init__(self, logger: logging.Logger, redactor: TokenRedactor) -> None:
        super().__init__(logger, {})
        self._redactor = redactor

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if not self.isEnabledFor(level):
            return
        text = str(msg) % args if args else str(msg)
        # A traceback can quote the URL too: format it here so it is redacted with the rest.
        exc_info = kwargs.pop("exc_info", None)
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            text += "\n" + "".join(traceback.format_exception(*exc_info))
        kwargs.setdefault("stacklevel", 2)
        self.logger.log(level, self._redactor.redact(text), **kwargs)
