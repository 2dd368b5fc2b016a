"""Logs an operator can use: an access line per request, an audit line per account change or
admin action, JSON lines for log shippers; never a token, a password or a URL signature."""

from __future__ import annotations

import json
import logging
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from chatkit.logs import JsonFormatter
from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD, TEST_SECRET
from tests.helpers.images import png
from tests.helpers.processes import Server, child_env

NEW_PASSWORD = "a brand new secret 9"


def _lines(caplog: pytest.LogCaptureFixture, logger: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == logger]


def _leaks(records: list[logging.LogRecord], secrets: list[str]) -> list[str]:
    """Every rendering of the records (text and JSON) that contains one of ``secrets``."""
    found = []
    for record in records:
        for text in (record.getMessage(), JsonFormatter().format(record)):
            found += [f"{s[:12]}... in {text}" for s in secrets if s in text]
    return found


async def test_requests_leave_access_and_audit_lines_without_secrets(api, make_user, caplog):
    caplog.set_level(logging.INFO, logger="chatkit")
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    # an image, fetched by its signed URL: the signature must not reach the log
    up = await api.post("/api/v1/chats", headers=ann.headers, data={"receiverId": bob.id},
                        files={"media": ("a.png", png(), "image/png")})
    assert up.status_code == 201, up.text
    chat_id = up.json()["chat"]["_id"]
    url = urlsplit(up.json()["chat"]["messages"][0]["content"])
    signature = parse_qs(url.query)["signature"][0]
    assert (await api.get(f"{url.path}?{url.query}")).status_code == 200
    wrong = await api.post(AUTH + "/login", json={"email": ann.email, "password": "not her password"})
    assert wrong.status_code == 401
    login = await api.post(AUTH + "/login", json={"email": ann.email, "password": PASSWORD})
    second_token = login.json()["data"]["token"]
    assert (await api.get("/api/v1/chats?page=1&limit=5", headers=auth_header(second_token))).status_code == 200
    assert (await api.post(f"/api/v1/actions/{bob.id}/block", headers=ann.headers)).status_code == 200
    assert (await api.patch(f"/api/v1/chats/clear/{chat_id}", headers=ann.headers)).status_code == 200
    changed = await api.patch(AUTH + "/change-password", headers=ann.headers,
                              json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    new_token = changed.json()["data"]["token"]
    assert (await api.post(AUTH + "/log-out", headers=auth_header(new_token))).status_code == 200

    access = [r.getMessage() for r in _lines(caplog, "chatkit.access")]
    assert any(line.startswith("POST /api/v1/users/auth/register 201 ") for line in access), access
    listing = [line for line in access if line.startswith("GET /api/v1/chats?page=1&limit=5 200 ")]
    assert len(listing) == 1 and f"user={ann.id}" in listing[0], access
    assert any(line.startswith("POST /api/v1/users/auth/login 401 ") and "user=-" in line for line in access)
    [media] = [line for line in access if line.startswith(f"GET {url.path}?")]
    assert " 200 " in media and "signature=..." in media, media
    [structured] = [r for r in _lines(caplog, "chatkit.access") if r.getMessage().startswith("GET /api/v1/chats?")]
    fields = structured.access  # type: ignore[attr-defined]
    assert fields["method"] == "GET" and fields["status"] == 200 and fields["userId"] == ann.id
    assert isinstance(fields["durationMs"], float)

    audit = [r.getMessage() for r in _lines(caplog, "chatkit.audit")]
    expected = [f"user:{ann.id} register ", f"user:{ann.id} login-failed ", f"user:{ann.id} login ",
                f"user:{ann.id} block ", f"user:{ann.id} clear-chat ", f"user:{ann.id} change-password",
                f"user:{ann.id} logout "]
    for start in expected:
        assert any(line.startswith(start) for line in audit), (start, audit)
    assert any(f"other={bob.id}" in line for line in audit if " block " in line), audit
    assert any(f"chat={chat_id}" in line for line in audit if " clear-chat " in line), audit

    secrets = [ann.token, second_token, new_token, bob.token, PASSWORD, NEW_PASSWORD, "not her password",
               signature, TEST_SECRET]
    assert _leaks(caplog.records, secrets) == []


async def test_a_failed_login_for_no_account_names_no_account(api, caplog):
    caplog.set_level(logging.INFO, logger="chatkit.audit")
    typed = "my-password-typed-in-the-email-field"
    r = await api.post(AUTH + "/login", json={"email": typed, "password": "whatever it is"})
    assert r.status_code == 401
    [line] = [r.getMessage() for r in _lines(caplog, "chatkit.audit")]
    assert line.startswith("anonymous login-failed "), line
    assert _leaks(caplog.records, [typed, "whatever it is"]) == []


async def test_admin_actions_are_audited_in_the_data_dir_as_the_operators(admin_cli, make_user, settings):
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    secret = "operator chosen pw 7"
    for args in (("users", "ban", ann.email), ("users", "set-password", bob.email, "--password", secret),
                 ("block", bob.email, ann.email)):
        result = await admin_cli(*args)
        assert result.exit_code == 0, (args, result.output)
    trail = (Path(settings.data_dir) / "audit.log").read_text(encoding="utf-8").splitlines()
    assert any("users ban" in line and ann.email in line for line in trail), trail
    assert any("users set-password" in line and bob.email in line for line in trail), trail
    assert all(" operator=" in line for line in trail), trail
    # the operator's block is the operator's line, never also recorded as Bob's own action
    assert not any(f"user:{bob.id}" in line for line in trail), trail
    assert not any(secret in line or ann.token in line or bob.token in line for line in trail), trail


async def test_serve_writes_json_lines_that_parse(mongo_url, tmp_path):
    env = child_env(CHATKIT_JWT_SECRET=TEST_SECRET, CHATKIT_LOG_FORMAT="json")
    db_name = f"t_{uuid.uuid4().hex[:12]}"
    server = Server(tmp_path / "serve.log", ["--port", "0", "--mongo-url", mongo_url, "--db-name", db_name,
                                              "--data-dir", str(tmp_path / "data")], env)
    try:
        r = server.http.post(AUTH + "/register", json={"firstName": "Ann", "lastName": "Lee",
                                                       "email": "ann@example.com", "password": PASSWORD})
        assert r.status_code == 201, r.text
        token = r.json()["data"]["token"]
        assert server.http.get(AUTH + "/me", headers=auth_header(token)).status_code == 200
    finally:
        assert server.stop() == 0
    lines = [json.loads(line) for line in server.log().splitlines() if line.strip()]
    assert all({"time", "level", "logger", "message"} <= set(line) for line in lines), lines
    [me] = [line for line in lines if line["logger"] == "chatkit.access" and line["access"]["path"] == AUTH + "/me"]
    assert me["access"]["status"] == 200 and me["access"]["userId"] == r.json()["data"]["_id"]
    [register] = [line for line in lines if line["logger"] == "chatkit.audit"]
    assert register["audit"]["action"] == "register" and register["audit"]["email"] == "ann@example.com"
    assert token not in server.log() and PASSWORD not in server.log()
