"""The Phoenix Channels v2 wire: the socket URL, frames, and the token kept out of text."""

from __future__ import annotations

import logging

import pytest

from codex_runner.bridges.link.phoenix_wire import (
    REDACTED,
    TokenRedactor,
    decode_frame,
    encode_frame,
    socket_url,
)


@pytest.mark.parametrize(
    ("base", "expected"),
    [
        ("wss://chat.example/socket", "wss://chat.example/socket/websocket?vsn=2.0.0&token=t%2B1"),
        (
            "ws://127.0.0.1:4000/socket/",
            "ws://127.0.0.1:4000/socket/websocket?vsn=2.0.0&token=t%2B1",
        ),
        (
            "wss://chat.example/socket?region=eu&vsn=1.0.0",
            "wss://chat.example/socket/websocket?region=eu&vsn=2.0.0&token=t%2B1",
        ),
    ],
)
def test_the_socket_url_adds_the_websocket_path_serializer_and_token(
    base: str, expected: str
) -> None:
    assert socket_url(base, "t+1") == expected


@pytest.mark.parametrize("base", ["https://chat.example/socket", "chat.example/socket", "ws://"])
def test_a_url_that_is_not_a_websocket_url_is_refused_with_the_fix(base: str) -> None:
    with pytest.raises(ValueError, match=r"wss://chat\.example/socket"):
        socket_url(base, "tok")


def test_a_url_error_does_not_repeat_a_token_pasted_into_the_url() -> None:
    with pytest.raises(ValueError) as refused:
        socket_url("https://chat.example/socket?token=s3cret", "s3cret")
    assert "s3cret" not in str(refused.value)


@pytest.mark.parametrize("token", ["", " padded "])
def test_an_empty_or_padded_token_is_refused_naming_where_it_comes_from(token: str) -> None:
    with pytest.raises(ValueError, match="CODEX_RUNNER_LINK_TOKEN"):
        socket_url("wss://chat.example/socket", token)


def test_a_frame_round_trips() -> None:
    raw = encode_frame("1", "2", "local_runner:r", "phx_join", {"a": [1]})
    assert raw == '["1","2","local_runner:r","phx_join",{"a":[1]}]'
    assert decode_frame(raw) == ("1", "2", "local_runner:r", "phx_join", {"a": [1]})
    assert decode_frame(raw.encode()) == decode_frame(raw)


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("{", "not JSON"),
        ('{"a": 1}', "array"),
        ('[null, null, "t", "e"]', "array"),
        ('[1, null, "t", "e", {}]', "join_ref and ref"),
        ('[null, null, 5, "e", {}]', "topic and event"),
        ('[null, null, "t", "e", "text"]', "payload"),
    ],
)
def test_a_frame_that_is_not_one_says_why(raw: str, complaint: str) -> None:
    reason = decode_frame(raw)
    assert isinstance(reason, str) and complaint in reason


def test_the_redactor_removes_the_token_raw_and_url_quoted() -> None:
    redactor = TokenRedactor("a b/c")
    text = "raw a b/c, quoted a%20b%2Fc, plus a+b%2Fc"
    assert redactor.redact(text) == f"raw {REDACTED}, quoted {REDACTED}, plus {REDACTED}"


def test_the_redacting_logger_redacts_arguments_and_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logger = TokenRedactor("s3cret").logger("tests.phoenix_wire")
    with caplog.at_level(logging.DEBUG, logger="tests.phoenix_wire"):
        logger.debug("> GET %s HTTP/1.1", "/socket?token=s3cret")
        try:
            raise RuntimeError("failed at /socket?token=s3cret")
        except RuntimeError:
            logger.error("it broke", exc_info=True)

    assert f"GET /socket?token={REDACTED} HTTP/1.1" in caplog.text
    assert "RuntimeError: failed at /socket?token=" in caplog.text
    assert "s3cret" not in caplog.text
