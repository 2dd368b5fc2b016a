"""Values the whole suite agrees on, defined once.

Paths are the wire's literal text on purpose: the tests pin the contract rather than
reading it back from ``chatkit.protocol``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

TEST_SECRET = "test-secret-" + "x" * 32  # the JWT secret of every test server
PASSWORD = "correct horse 1"  # the password of every registered test user
UNKNOWN_ID = "0123456789abcdef01234567"  # well-formed, never issued by MongoDB here

AUTH = "/api/v1/users/auth"  # prefix of the auth REST API

OID = re.compile(r"^[0-9a-f]{24}$")  # an ObjectId as the wire spells it
# The wire's timestamps: ISO 8601 in UTC with milliseconds, e.g. 2024-05-01T12:00:00.123Z
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")


def iso_ms(t: datetime) -> str:
    """``t`` written as the wire writes times (see :data:`ISO_MS`)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def parse_iso_ms(text: str) -> datetime:
    """A wire timestamp as an aware datetime; fails unless it has exactly the wire's format."""
    assert isinstance(text, str) and ISO_MS.match(text), f"not a wire timestamp: {text!r}"
    return datetime.fromisoformat(text)
