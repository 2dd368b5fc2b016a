"""Accounts by email over the wire, with a real SMTP server receiving the mails.

Sign-up with verification, the original backend's replies, sign-in by emailed code,
setting a password after it, and the limits that keep a 6-digit code from being guessed.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import pytest

from tests.helpers.accounts import auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error
from tests.helpers.mailbox import MAIL
from tests.helpers.waiting import wait_until

BAD_CODE = "Invalid or expired code"
SENT = "Verification OTP is sent to your Email"
mailing = pytest.mark.parametrize("settings", [MAIL], indirect=True)


def _email(name: str = "ann") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


async def _register(api, email: str, **extra):
    return await api.post(AUTH + "/register", json={
        "firstName": "Ann", "lastName": "Lee", "email": email, "password": PASSWORD, **extra})


async def _operator_made(admin) -> str:
    """An account an operator created (verified: no code involved); its address."""
    email = _email("bob")
    await admin("users", "create", "--email", email, "--first-name", "Bob", "--last-name", "Ray",
                "--password", PASSWORD)
    return email


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


@mailing
async def test_register_mails_a_code_and_verify_account_gives_the_token(api, mailbox, caplog):
    email = _email()
    with caplog.at_level(logging.INFO, logger="chatkit.audit"):
        r = await _register(api, email)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["message"] == SENT
    assert body["data"]["email"] == email and "token" not in body["data"] and "password" not in body["data"]
    audit = [rec.getMessage() for rec in caplog.records if rec.name == "chatkit.audit"]
    assert any(f"user:{body['data']['_id']} register " in line and email in line for line in audit), audit

    [mail] = await mailbox.wait_for(email)
    assert mail.to == [email]
    assert mail.code not in mail.subject  # the subject outlives the body in the outbox's record
    assert mail.code in mail.part("html") and "<img" not in mail.part("html") and "http" not in mail.part("html")

    # Unverified: a login mails a new code instead of a token.
    r = await api.post(AUTH + "/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["message"] == SENT and "token" not in r.json()["data"], r.text
    first, second = await mailbox.wait_for(email, 2)
    if first.code != second.code:  # a new code was mailed and the old one died (unless equal by chance)
        assert_error(await api.post(AUTH + "/verify-account", json={"email": email, "code": first.code}),
                     400, BAD_CODE)

    r = await api.post(AUTH + "/verify-account", json={"email": email, "code": second.code,
                                                       "notificationToken": "device-1"})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    me = await api.get(AUTH + "/me", headers=auth_header(data["token"]))
    assert me.status_code == 200 and me.json()["data"]["email"] == email
    # single use
    assert_error(await api.post(AUTH + "/verify-account", json={"email": email, "code": second.code}), 400, BAD_CODE)
    # verified now: the password gives a token
    r = await api.post(AUTH + "/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200 and r.json()["data"]["token"], r.text


@mailing
async def test_five_wrong_codes_kill_the_code(api, mailbox):
    email = _email()
    assert (await _register(api, email)).status_code == 200
    code = (await mailbox.wait_for(email))[0].code
    for _ in range(5):
        assert_error(await api.post(AUTH + "/verify-account", json={"email": email, "code": _wrong(code)}),
                     400, BAD_CODE)
    assert_error(await api.post(AUTH + "/verify-account", json={"email": email, "code": code}), 400, BAD_CODE)


@mailing
async def test_send_otp_answers_alike_for_unknown_and_known_addresses(api, mailbox, admin):
    known = await _operator_made(admin)
    stranger = _email("nobody")
    replies = [await api.post(AUTH + "/send-otp", json={"email": a}) for a in (known, stranger)]
    assert [r.status_code for r in replies] == [200, 200]
    assert replies[0].json() == replies[1].json() == {
        "success": True, "message": "If this email has an account, an OTP is sent to it"}
    await mailbox.wait_for(known)
    await asyncio.sleep(0.3)  # the sender has had time to send a mail to the stranger, if one were queued
    assert mailbox.to(stranger) == []


@pytest.mark.parametrize("settings", [{**MAIL, "codes_per_hour": 2}], indirect=True)
async def test_codes_per_address_are_limited_alike(api, mailbox, admin):
    known = await _operator_made(admin)
    stranger = _email("nobody")
    for address in (known, stranger):
        for _ in range(2):
            assert (await api.post(AUTH + "/send-otp", json={"email": address})).status_code == 200
    refusals = [await api.post(AUTH + "/send-otp", json={"email": a}) for a in (known, stranger)]
    assert [r.json() for r in refusals] == [refusals[0].json()] * 2
    assert_error(refusals[0], 429, "Too many codes requested for this email, try again in 60 minutes")
    assert refusals[0].headers["Retry-After"] == "3600"


@mailing
async def test_verify_otp_then_change_password_without_the_old_one(api, mailbox, admin):
    email = await _operator_made(admin)
    assert (await api.post(AUTH + "/send-otp", json={"email": email})).status_code == 200
    mail = (await mailbox.wait_for(email))[-1]
    assert "sign-in" in mail.subject.lower()
    # tied to the address: another address with the same code gets nothing
    assert_error(await api.post(AUTH + "/verify-otp", json={"email": _email(), "otp": mail.code}), 400, BAD_CODE)
    r = await api.post(AUTH + "/verify-otp", json={"email": email, "otp": mail.code})
    assert r.status_code == 200, r.text
    token = r.json()["data"]["token"]
    r = await api.patch(AUTH + "/change-password", headers=auth_header(token), json={"newPassword": "a new password"})
    assert r.status_code == 200, r.text
    fresh = r.json()["data"]["token"]
    assert (await api.get(AUTH + "/me", headers=auth_header(token))).status_code == 401  # old sessions end
    assert (await api.get(AUTH + "/me", headers=auth_header(fresh))).status_code == 200
    assert_error(await api.post(AUTH + "/login", json={"email": email, "password": PASSWORD}), 401)
    r = await api.post(AUTH + "/login", json={"email": email, "password": "a new password"})
    assert r.status_code == 200, r.text
    # a session opened by a password may not skip the old one
    assert_error(await api.patch(AUTH + "/change-password", headers=auth_header(r.json()["data"]["token"]),
                                 json={"newPassword": "another password"}), 400, "currentPassword is required")


@mailing
async def test_a_bare_otp_works_once_and_bare_guesses_are_throttled(api, mailbox, admin):
    email = await _operator_made(admin)
    await api.post(AUTH + "/send-otp", json={"email": email})
    code = (await mailbox.wait_for(email))[-1].code
    r = await api.post(AUTH + "/verify-otp", json={"otp": code})
    assert r.status_code == 200 and r.json()["data"]["email"] == email, r.text
    assert_error(await api.post(AUTH + "/verify-otp", json={"otp": code}), 400, BAD_CODE)
    statuses = [(await api.post(AUTH + "/verify-otp", json={"otp": _wrong(code)})).status_code for _ in range(6)]
    assert statuses[:4] == [400] * 4 and statuses[-1] == 429, statuses


@pytest.mark.parametrize("settings", [{**MAIL, "code_lifetime": 1}], indirect=True)
async def test_codes_expire(api, mailbox):
    email = _email()
    assert (await _register(api, email)).status_code == 200
    code = (await mailbox.wait_for(email))[0].code
    await asyncio.sleep(1.2)
    assert_error(await api.post(AUTH + "/verify-account", json={"email": email, "code": code}), 400, BAD_CODE)


@mailing
async def test_registering_a_taken_address_answers_like_a_new_one(api, mailbox):
    email = _email()
    first = await _register(api, email)
    again = await _register(api, email.upper())
    assert first.status_code == again.status_code == 200
    assert again.json()["message"] == SENT and set(again.json()["data"]) == set(first.json()["data"])
    mails = await mailbox.wait_for(email, 2)
    assert "already has one" in mails[1].part("plain")


async def test_verification_off_keeps_todays_register_reply(api):
    r = await _register(api, _email())
    assert r.status_code == 201, r.text
    assert r.json()["message"] == "Registered" and r.json()["data"]["token"]
    assert_error(await api.post(AUTH + "/send-otp", json={"email": _email()}), 503,
                 "Email is not configured on this server")


@mailing
async def test_an_undeliverable_mail_is_failed_and_shown_to_operators(api, mailbox, db):
    email = _email()
    mailbox.refuse = True
    try:
        assert (await _register(api, email)).status_code == 200
        mail = await wait_until(lambda: db["mails"].find_one({"to": email, "status": "failed"}),
                                what="the mail marked failed")
    finally:
        mailbox.refuse = False
    assert "550" in mail["reason"] and mail["text"] == "" and mail["html"] == ""  # the code is not kept
