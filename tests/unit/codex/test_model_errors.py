"""A model provider's HTTP error becomes a reason naming its status (and body, when Codex
passes it on), built from what Codex 0.163 really says (see model_errors)."""

from __future__ import annotations

import pytest

from codex_runner.codex.app_server_events import error_from_wire
from codex_runner.codex.exec_events import error_from_exec
from codex_runner.codex.model_errors import (
    MAX_ERROR_CHARS,
    http_status_in,
    http_status_of,
    model_error_message,
)
from codex_runner.domain.events import FailureClass

HIGH_DEMAND = "We\u2019re currently experiencing high demand, which may cause temporary errors."
KEY = "sk-abcdefghijklmnop1234"


@pytest.mark.parametrize(
    ("info", "status"),
    [
        ("internalServerError", 500),
        ({"httpConnectionFailed": {"httpStatusCode": 502}}, 502),
        ({"responseTooManyFailedAttempts": {"httpStatusCode": 429}}, 429),
        ({"responseStreamDisconnected": {"httpStatusCode": None}}, None),
        ({"responseStreamDisconnected": {"httpStatusCode": 99999}}, None),
        ("other", None),
        ("badRequest", None),
        (None, None),
        (["junk"], None),
    ],
)
def test_the_status_in_codex_error_info(info: object, status: int | None) -> None:
    assert http_status_of(info) == status


@pytest.mark.parametrize(
    ("message", "status"),
    [
        (HIGH_DEMAND, 500),
        ("unexpected status 502 Bad Gateway: upstream down, url: http://h/v1/responses", 502),
        ("exceeded retry limit, last status: 429 Too Many Requests", 429),
        ("Reconnecting... waiting for network (Connection failed: error sending request)", None),
        ('{"error":{"message":"bad request"}}', None),
    ],
)
def test_the_status_in_codex_messages(message: str, status: int | None) -> None:
    assert http_status_in(message) == status


def test_a_500_says_its_status_and_that_codex_passed_on_no_body() -> None:
    reason = model_error_message(HIGH_DEMAND, 500)
    assert reason.startswith("the model provider answered HTTP 500 Internal Server Error")
    assert "no response body" in reason and HIGH_DEMAND in reason


def test_a_message_that_names_its_status_is_kept_with_its_body_but_not_its_key() -> None:
    message = f"unexpected status 503 Service Unavailable: upstream overloaded: {KEY} leaked"
    reason = model_error_message(message, 503)
    assert reason.startswith("unexpected status 503 Service Unavailable: upstream overloaded")
    assert KEY not in reason and "[redacted] leaked" in reason


def test_a_status_the_message_does_not_name_is_put_in_front() -> None:
    assert model_error_message("boom", 404) == (
        "the model provider answered HTTP 404 Not Found: boom"
    )
    assert model_error_message("boom", 599) == "the model provider answered HTTP 599: boom"
    assert model_error_message("boom", None) == "boom"


def test_a_long_body_is_cut_to_a_bound() -> None:
    reason = model_error_message("unexpected status 502 Bad Gateway: " + "x" * 100_000, 502)
    assert len(reason) <= MAX_ERROR_CHARS and reason.endswith("[truncated]")


def test_an_app_server_500_keeps_its_status() -> None:
    error = error_from_wire(
        {"message": HIGH_DEMAND, "codexErrorInfo": "internalServerError", "additionalDetails": None}
    )
    assert error.http_status == 500 and "HTTP 500" in error.message
    assert error.failure_class is FailureClass.MODEL_ERROR


def test_an_app_server_error_shows_no_key_and_no_escape_in_message_or_details() -> None:
    error = error_from_wire(
        {
            "message": f'{{"error":{{"message":"bad key {KEY}"}}}}',
            "codexErrorInfo": "other",
            "additionalDetails": f"\x1b[31m{KEY}\x1b[0m",
        }
    )
    assert KEY not in error.message and error.detail == "[redacted]"


def test_an_exec_500_names_its_status_as_the_app_server_does() -> None:
    error = error_from_exec({"message": HIGH_DEMAND})
    assert error.http_status == 500 and error.message == model_error_message(HIGH_DEMAND, 500)


def test_an_exec_429_keeps_its_class_and_status() -> None:
    error = error_from_exec({"message": "exceeded retry limit, last status: 429 Too Many Requests"})
    assert error.http_status == 429 and error.failure_class is FailureClass.USAGE_LIMIT
