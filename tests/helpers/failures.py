"""The shape of a refusal, checked in one place per channel.

- REST: the status code and a ``{success: false, message}`` JSON envelope (:func:`assert_error`).
- Socket.IO: a ``{success: false, message}`` ack (:func:`assert_failed_ack`) and the
  ``error {message}`` event (:func:`is_error_event`).
- Command line: exactly one ``error: …`` line on stderr, no traceback (:func:`one_error_line`).

Given the expected ``message``, the REST and ack checks compare the *whole* envelope, so
no extra field slips in; without it they check the shape and return the message.
"""

from __future__ import annotations

from typing import Any

import httpx


def _has_reason(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get("message"), str) and bool(data["message"].strip())


def assert_error(r: httpx.Response, status: int, message: str | None = None, *, label: Any = None) -> str:
    """A REST error reply: this status, a JSON ``{success: false, message}`` body with a
    non-empty message (exactly ``message`` when given) and no traceback; returns the message."""
    where = f"{label}: " if label is not None else ""
    assert r.status_code == status, f"{where}expected {status}, got {r.status_code}: {r.text[:300]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), f"{where}{r.headers!r}"
    body = r.json()
    if message is not None:
        assert body == {"success": False, "message": message}, f"{where}{body!r}"
    assert body.get("success") is False, f"{where}{body!r}"
    assert _has_reason(body), f"{where}error reply without a reason: {body!r}"
    assert "Traceback" not in r.text, where + r.text
    return body["message"]


def is_failed_ack(ack: Any) -> bool:
    """``{success: false, message}`` with a non-empty message."""
    return _has_reason(ack) and ack.get("success") is False


def assert_failed_ack(ack: Any, message: str | None = None) -> str:
    """A failed Socket.IO ack (exactly ``{success: false, message}`` when ``message`` is
    given); returns the message."""
    if message is not None:
        assert ack == {"success": False, "message": message}, f"expected a failed ack {message!r}, got {ack!r}"
    assert is_failed_ack(ack), f"expected a failed ack {{success: false, message}}, got {ack!r}"
    return ack["message"]


def is_error_event(data: Any) -> bool:
    """The payload of a Socket.IO ``error`` event: ``{message}``, non-empty."""
    return _has_reason(data)


def one_error_line(stderr: str) -> str:
    """A command's refusal: exactly one line on stderr, ``error: …``, and no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]
