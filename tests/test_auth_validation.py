"""Bad input to the auth API: the right 4xx with a message, nothing stored, never a 500.

Each test sends a batch of bad requests to one endpoint and then checks that the
database holds exactly what it held before, and that the server logged no error (an
unhandled exception is logged with its traceback before the generic 500 goes out).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error

MB = 1024 * 1024
BIG = "x" * MB

GOOD_REGISTER = {"firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "password": PASSWORD}


def _without(body: dict, key: str) -> dict:
    return {k: v for k, v in body.items() if k != key}


def _raw_with(body: dict, key: str, json_literal: str) -> bytes:
    """``body`` as JSON text with ``key`` set to a literal (e.g. a lone surrogate escape)."""
    import json

    text = json.dumps({**body, key: "__PLACEHOLDER__"})
    return text.replace('"__PLACEHOLDER__"', json_literal).encode()


# (label, body as JSON value or raw bytes, status, message)
Case = tuple[str, Any, int, str]

ENVELOPE_CASES: list[Case] = [
    ("empty body", b"", 400, "The body must be a JSON object"),
    ("whitespace body", b"  \n ", 400, "The body must be a JSON object"),
    ("not JSON", b"{firstName: Ann}", 400, "Malformed JSON body"),
    ("truncated JSON", b'{"firstName": "Ann", ', 400, "Malformed JSON body"),
    ("not UTF-8", b'{"firstName": "\xff\xfe"}', 400, "Malformed JSON body"),
    ("nested 100k deep", b"[" * 100_000, 400, "Malformed JSON body: nested too deeply"),
    ("array", [GOOD_REGISTER], 400, "The body must be a JSON object"),
    ("string", "hello", 400, "The body must be a JSON object"),
    ("null", b"null", 400, "The body must be a JSON object"),
    ("number", 42, 400, "The body must be a JSON object"),
    ("over 2 MiB", b'{"firstName": "' + b"x" * (3 * MB) + b'"}', 413, "Request body too large"),
]

REGISTER_CASES: list[Case] = ENVELOPE_CASES + [
    *[(f"missing {k}", _without(GOOD_REGISTER, k), 400, f"{k} is required") for k in GOOD_REGISTER],
    *[(f"null {k}", {**GOOD_REGISTER, k: None}, 400, f"{k} is required") for k in GOOD_REGISTER],
    ("extra field", {**GOOD_REGISTER, "isAdmin": True}, 400, "Unexpected field: isAdmin"),
    ("extra isBlocked", {**GOOD_REGISTER, "isBlocked": False}, 400, "Unexpected field: isBlocked"),
    ("firstName number", {**GOOD_REGISTER, "firstName": 5}, 400, "firstName must be a string"),
    ("lastName operator", {**GOOD_REGISTER, "lastName": {"$gt": ""}}, 400, "lastName must be a string"),
    ("email bool", {**GOOD_REGISTER, "email": True}, 400, "email must be a string"),
    ("password list", {**GOOD_REGISTER, "password": [PASSWORD]}, 400, "password must be a string"),
    ("notificationToken number", {**GOOD_REGISTER, "notificationToken": 7}, 400,
     "notificationToken must be a string or null"),
    ("1 MB firstName", {**GOOD_REGISTER, "firstName": BIG}, 400, "firstName must be at most 100 characters"),
    ("1 MB lastName", {**GOOD_REGISTER, "lastName": BIG}, 400, "lastName must be at most 100 characters"),
    ("1 MB email", {**GOOD_REGISTER, "email": BIG}, 400, "email must be at most 254 characters"),
    ("1 MB password", {**GOOD_REGISTER, "password": BIG}, 400, "password must be at most 72 bytes"),
    ("1 MB notificationToken", {**GOOD_REGISTER, "notificationToken": BIG}, 400,
     "notificationToken must be at most 4096 characters"),
    *[(f"lone surrogate in {k}", _raw_with(GOOD_REGISTER, k, '"ab\\ud800cdefghij"'), 400,
       f"{k} must be valid Unicode text") for k in GOOD_REGISTER],
    ("email without @", {**GOOD_REGISTER, "email": "ann.example.com"}, 400, "email is not a valid email address"),
    ("email without domain dot", {**GOOD_REGISTER, "email": "ann@example"}, 400,
     "email is not a valid email address"),
    ("email with space", {**GOOD_REGISTER, "email": "ann lee@example.com"}, 400,
     "email is not a valid email address"),
    ("email with NUL", {**GOOD_REGISTER, "email": "ann\u0000@example.com"}, 400,
     "email is not a valid email address"),
    ("short password", {**GOOD_REGISTER, "password": "1234567"}, 400, "password must be at least 8 characters"),
    ("73-byte password", {**GOOD_REGISTER, "password": "é" * 37}, 400, "password must be at most 72 bytes"),
    ("blank firstName", {**GOOD_REGISTER, "firstName": "   "}, 400, "firstName must not be empty"),
    ("control char in lastName", {**GOOD_REGISTER, "lastName": "Lee\nDROP"}, 400,
     "lastName must not contain control characters"),
]


async def _send(api, method: str, path: str, body: Any, headers: dict | None = None):
    if isinstance(body, bytes):
        return await api.request(method, path, content=body,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    return await api.request(method, path, json=body, headers=headers)


async def _check_cases(api, method: str, path: str, cases: list[Case], headers: dict | None = None) -> None:
    for label, body, status, message in cases:
        assert_error(await _send(api, method, path, body, headers), status, message, label=label)


def _no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    errors = [rec for rec in caplog.records if rec.levelno >= logging.ERROR]
    assert errors == [], [rec.getMessage() for rec in errors]


# More bad bodies than one address may register in a minute: every one must reach the
# validation (the registration limit has its own tests in test_rate_limits.py).
@pytest.mark.parametrize("settings", [{"rate_registrations": "off"}], indirect=True)
async def test_register_rejects_bad_input_and_stores_nothing(api, db, caplog):
    await _check_cases(api, "POST", AUTH + "/register", REGISTER_CASES)
    assert await db.users.count_documents({}) == 0
    assert await db.sessions.count_documents({}) == 0
    _no_errors_logged(caplog)
    # The endpoint still works afterwards, for the very body every case was built from.
    r = await api.post(AUTH + "/register", json=GOOD_REGISTER)
    assert r.status_code == 201, r.text


async def test_chunked_body_over_the_limit_is_refused(api, db):
    async def chunks():
        for _ in range(3):
            yield b" " * MB

    r = await api.post(AUTH + "/register", content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(r, 413, "Request body too large")
    assert await db.users.count_documents({}) == 0


async def test_large_but_allowed_body_is_read_whole(api, db):
    """A 1.5 MB body arrives in many chunks; it must be parsed whole, not cut at the first."""
    r = await api.post(AUTH + "/register", json={**GOOD_REGISTER, "firstName": "x" * (3 * MB // 2)})
    assert_error(r, 400, "firstName must be at most 100 characters")


async def test_login_rejects_bad_input(api, make_user, db, caplog):
    ann = await make_user("Ann")
    good = {"email": ann.email, "password": PASSWORD}
    sessions_before = await db.sessions.count_documents({})
    cases: list[Case] = ENVELOPE_CASES + [
        ("missing email", _without(good, "email"), 400, "email is required"),
        ("missing password", _without(good, "password"), 400, "password is required"),
        ("extra field", {**good, "remember": True}, 400, "Unexpected field: remember"),
        ("email operator", {**good, "email": {"$ne": ""}}, 400, "email must be a string"),
        ("password number", {**good, "password": 12345678}, 400, "password must be a string"),
        ("1 MB email", {**good, "email": BIG}, 400, "email must be at most 254 characters"),
        ("1 MB password", {**good, "password": BIG}, 400, "password must be at most 1024 characters"),
        ("1 MB notificationToken", {**good, "notificationToken": BIG}, 400,
         "notificationToken must be at most 4096 characters"),
        ("lone surrogate in password", _raw_with(good, "password", '"\\udfff"'), 400,
         "password must be valid Unicode text"),
        ("malformed email", {**good, "email": "not an email"}, 401, "Incorrect email or password"),
        ("empty password", {**good, "password": ""}, 401, "Incorrect email or password"),
    ]
    await _check_cases(api, "POST", AUTH + "/login", cases)
    assert await db.sessions.count_documents({}) == sessions_before
    _no_errors_logged(caplog)


async def test_change_password_rejects_bad_input_and_changes_nothing(api, make_user, db, caplog):
    ann = await make_user("Ann")
    good = {"currentPassword": PASSWORD, "newPassword": "another good one"}
    before = await db.users.find_one({})
    cases: list[Case] = ENVELOPE_CASES + [
        ("missing newPassword", _without(good, "newPassword"), 400, "newPassword is required"),
        ("missing currentPassword", _without(good, "currentPassword"), 400, "currentPassword is required"),
        ("extra field", {**good, "email": "x@example.com"}, 400, "Unexpected field: email"),
        ("newPassword number", {**good, "newPassword": 123456789}, 400, "newPassword must be a string"),
        ("1 MB newPassword", {**good, "newPassword": BIG}, 400, "newPassword must be at most 72 bytes"),
        ("1 MB currentPassword", {**good, "currentPassword": BIG}, 400,
         "currentPassword must be at most 1024 characters"),
        ("lone surrogate", _raw_with(good, "newPassword", '"abcdefgh\\ud800"'), 400,
         "newPassword must be valid Unicode text"),
    ]
    await _check_cases(api, "PATCH", AUTH + "/change-password", cases, headers=ann.headers)
    after = await db.users.find_one({})
    assert after["password"] == before["password"] and after["passwordChangedAt"] is None
    assert await db.sessions.count_documents({"revokedAt": {"$ne": None}}) == 0
    r = await api.get(AUTH + "/me", headers=ann.headers)
    assert r.status_code == 200
    _no_errors_logged(caplog)


async def test_token_problems_win_over_body_problems(api):
    """Without a valid token the body is not even looked at: 401, not 400."""
    r = await api.patch(AUTH + "/change-password", content=b"{broken", headers=auth_header("nope"))
    assert_error(r, 401, "Invalid token")
    r = await api.post(AUTH + "/log-out", headers=auth_header("Bearer " + "a.b.c"))
    assert_error(r, 401, "Invalid token")
