"""The auth REST API over the wire: register, login, me, log-out, change-password.

Sessions live on the server, so every check here is "the very next request": no
waiting, no clock games, except tokens built with a past ``exp``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from bson import ObjectId

from chatkit.server.runner import start_server
from tests.helpers.accounts import auth_header, sign_token, token_claims
from tests.helpers.constants import AUTH, PASSWORD, parse_iso_ms
from tests.helpers.failures import assert_error


async def _me(api, token: str):
    return await api.get(AUTH + "/me", headers=auth_header(token))


async def _login(api, email: str, password: str = PASSWORD, **extra):
    return await api.post(AUTH + "/login", json={"email": email, "password": password, **extra})


# --- register / login / me --------------------------------------------------------------


async def test_register_login_me_round_trip(api):
    email = f"Ann.{uuid.uuid4().hex[:6]}@Example.COM"
    r = await api.post(AUTH + "/register", json={
        "firstName": "  Ann ", "lastName": "Lee", "email": email, "password": PASSWORD,
    })
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True
    user = body["data"]
    assert ObjectId.is_valid(user["_id"]) and len(user["_id"]) == 24
    assert user["firstName"] == "Ann" and user["lastName"] == "Lee" and user["fullName"] == "Ann Lee"
    assert user["email"] == email.lower()
    assert user["isActive"] is True and user["isBlocked"] is False and user["blockedUsers"] == []
    assert "password" not in user
    expires = parse_iso_ms(user["tokenExpDate"])
    assert timedelta(days=29) < expires - datetime.now(UTC) <= timedelta(days=30)
    parse_iso_ms(user["createdAt"])

    # The token is the JWT the original apps expect.
    header = jwt.get_unverified_header(user["token"])
    claims = jwt.decode(user["token"], options={"verify_signature": False})
    assert header["alg"] == "HS256"
    assert claims["userId"] == user["_id"] and claims["role"] == "user"
    assert claims["exp"] - claims["iat"] == 30 * 24 * 3600

    # Login is case-insensitive on the email and yields a different, working token.
    r = await _login(api, email.upper())
    assert r.status_code == 200, r.text
    login = r.json()["data"]
    assert login["_id"] == user["_id"] and login["token"] != user["token"]
    assert "password" not in login

    for token in (user["token"], login["token"], "Bearer " + login["token"], "bearer " + user["token"]):
        r = await _me(api, token)
        assert r.status_code == 200, r.text
        me = r.json()
        assert me["success"] is True
        assert me["data"]["_id"] == user["_id"] and me["data"]["email"] == email.lower()
        assert "password" not in me["data"] and "token" not in me["data"]


async def test_me_without_token_is_refused(api):
    assert_error(await api.get(AUTH + "/me"), 401, "Authentication required")
    assert_error(await _me(api, ""), 401, "Authentication required")


async def test_wrong_password_and_unknown_email_look_the_same(api, make_user):
    ann = await make_user("Ann")
    wrong_password = await _login(api, ann.email, "not the password")
    unknown_email = await _login(api, "nobody." + ann.email)
    assert_error(wrong_password, 401, "Incorrect email or password")
    assert_error(unknown_email, 401, "Incorrect email or password")


async def test_duplicate_email_is_a_conflict(api, make_user, db):
    ann = await make_user("Ann")
    r = await api.post(AUTH + "/register", json={
        "firstName": "Other", "lastName": "Person", "email": ann.email.upper(), "password": PASSWORD,
    })
    assert_error(r, 409, "Email is already registered")
    assert await db.users.count_documents({}) == 1
    # The first account is untouched: its password still works.
    assert (await _login(api, ann.email)).status_code == 200


async def test_concurrent_registration_creates_exactly_one_user(api, db):
    email = f"race.{uuid.uuid4().hex[:8]}@example.com"
    variants = [email, email.upper(), email.title()] * 3 + [email]

    async def attempt(i: int, address: str):
        return await api.post(AUTH + "/register", json={
            "firstName": f"Racer{i}", "lastName": "X", "email": address, "password": PASSWORD,
        })

    replies = await asyncio.gather(*(attempt(i, a) for i, a in enumerate(variants)))
    statuses = sorted(r.status_code for r in replies)
    assert statuses == [201] + [409] * (len(variants) - 1), [r.text for r in replies]
    for r in replies:
        if r.status_code == 409:
            assert_error(r, 409)
    assert await db.users.count_documents({}) == 1
    winner = next(r.json()["data"] for r in replies if r.status_code == 201)
    assert (await _me(api, winner["token"])).status_code == 200


# --- sessions: several devices, log-out -------------------------------------------------


async def test_two_devices_log_out_of_one_keeps_the_other(api, make_user, db):
    ann = await make_user("Ann")
    phone = (await _login(api, ann.email, notificationToken="push-phone")).json()["data"]["token"]
    laptop = (await _login(api, ann.email, notificationToken="push-laptop")).json()["data"]["token"]
    # A second login did not log the first device out (the original's bug).
    for token in (ann.token, phone, laptop):
        assert (await _me(api, token)).status_code == 200

    r = await api.post(AUTH + "/log-out", headers=auth_header("Bearer " + phone))
    assert r.status_code == 200, r.text
    assert r.json()["success"] is True

    assert_error(await _me(api, phone), 401, "Session ended, please login again")
    assert (await _me(api, laptop)).status_code == 200
    assert (await _me(api, ann.token)).status_code == 200
    # Logging out again with the dead token is refused, not a second success.
    assert_error(await api.post(AUTH + "/log-out", headers=auth_header(phone)), 401,
                 "Session ended, please login again")

    # The phone's push token went with its session; the laptop's stays.
    push_tokens = {s.get("notificationToken") async for s in db.sessions.find({"revokedAt": None})}
    assert push_tokens == {"push-laptop", None}


async def test_push_token_belongs_to_the_newest_login_on_that_device(api, make_user, db):
    ann = await make_user("Ann", notificationToken="device-1")
    bob = await make_user("Bob")
    # Bob logs in on the device Ann used: the device now notifies Bob, not Ann.
    r = await _login(api, bob.email, notificationToken="device-1")
    assert r.status_code == 200
    holders = [s["userId"] async for s in db.sessions.find({"notificationToken": "device-1"})]
    assert holders == [ObjectId(bob.id)]
    assert (await _me(api, ann.token)).status_code == 200  # Ann's session itself lives on


# --- change-password --------------------------------------------------------------------


async def _change(api, token: str, current: str, new: str):
    return await api.patch(AUTH + "/change-password", headers=auth_header(token),
                           json={"currentPassword": current, "newPassword": new})


async def test_change_password_ends_every_old_token_and_returns_a_working_one(api, make_user):
    ann = await make_user("Ann")
    other_device = (await _login(api, ann.email)).json()["data"]["token"]

    r = await _change(api, ann.token, PASSWORD, "a brand new secret")
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert r.json()["success"] is True and data["_id"] == ann.id
    assert data["passwordChangedAt"] is not None and "password" not in data
    new_token = data["token"]
    assert new_token not in (ann.token, other_device)

    for old in (ann.token, other_device):
        assert_error(await _me(api, old), 401, "Password changed, please login again")
    me = await _me(api, new_token)
    assert me.status_code == 200 and me.json()["data"]["_id"] == ann.id

    assert_error(await _login(api, ann.email, PASSWORD), 401, "Incorrect email or password")
    assert (await _login(api, ann.email, "a brand new secret")).status_code == 200


async def test_change_password_refusals_change_nothing(api, make_user):
    ann = await make_user("Ann")
    cases = [
        ("not my password", "a brand new secret", 401, "Current password is incorrect"),
        (PASSWORD, "short", 400, "newPassword must be at least 8 characters"),
        (PASSWORD, PASSWORD, 400, "newPassword must differ from currentPassword"),
        (PASSWORD, "x" * 73, 400, "newPassword must be at most 72 bytes"),
    ]
    for current, new, status, message in cases:
        assert_error(await _change(api, ann.token, current, new), status, message)
        # Still logged in with the same token, still the same password.
        assert (await _me(api, ann.token)).status_code == 200
    assert (await _login(api, ann.email, PASSWORD)).status_code == 200


async def test_change_password_needs_a_valid_token(api, make_user):
    ann = await make_user("Ann")
    assert_error(await api.patch(AUTH + "/change-password",
                                 json={"currentPassword": PASSWORD, "newPassword": "whatever123"}),
                 401, "Authentication required")
    await api.post(AUTH + "/log-out", headers=ann.headers)
    assert_error(await _change(api, ann.token, PASSWORD, "whatever123"), 401,
                 "Session ended, please login again")
    assert (await _login(api, ann.email, PASSWORD)).status_code == 200


# --- tokens that must be refused --------------------------------------------------------


def _unsigned(claims: dict) -> str:
    """A token with ``alg: none`` and no signature, as an attacker would craft it."""
    return sign_token(claims, secret=None, algorithm="none")


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the HS512 case
async def test_forged_and_expired_tokens_are_refused(api, make_user):
    ann = await make_user("Ann")
    real_claims = jwt.decode(ann.token, options={"verify_signature": False})
    now = int(time.time())
    cases = {
        "alg none": (_unsigned(real_claims), "Invalid token"),
        "alg none, no dot": (_unsigned(real_claims).rstrip("."), "Invalid token"),
        "other secret": (sign_token(real_claims, "some-other-secret-" + "y" * 32), "Invalid token"),
        "HS512 with our secret": (sign_token(real_claims, algorithm="HS512"), "Invalid token"),
        "expired": (sign_token(token_claims(ann.id, iat=now - 7200, exp=now - 60)),
                    "Session expired, please login again"),
        "no exp": (sign_token({"userId": ann.id, "role": "user", "iat": now}), "Invalid token"),
        "wrong role": (sign_token(token_claims(ann.id, role="admin")), "Invalid token"),
        "userId not an ObjectId": (sign_token(token_claims("not-an-object-id")), "Invalid token"),
        "userId a number": (sign_token(token_claims(12345)), "Invalid token"),
        "userId of nobody": (sign_token(token_claims(str(ObjectId()))), "Account not found"),
        # Signed with the right secret but never issued by a login: no session behind it.
        "no session": (sign_token(token_claims(ann.id)), "Session expired, please login again"),
        "garbage": ("garbage", "Invalid token"),
        "tampered": (ann.token[:-4] + ("AAAA" if not ann.token.endswith("AAAA") else "BBBB"), "Invalid token"),
        "huge": ("a" * 6000, "Invalid token"),
        "bearer only": ("Bearer", "Invalid token"),
    }
    for label, (token, message) in cases.items():
        assert_error(await _me(api, token), 401, message, label=label)
    # None of that disturbed the real session.
    assert (await _me(api, ann.token)).status_code == 200


async def test_authorization_header_that_is_not_text_is_refused(api):
    r = await api.get(AUTH + "/me", headers={"Authorization": b"\xff\xfe\xfd"})
    assert_error(r, 401, "Invalid token")


# --- closed registration ----------------------------------------------------------------


async def test_closed_registration_refuses_sign_up_but_keeps_login(settings, admin_cli):
    import httpx

    closed = dataclasses.replace(settings, open_registration=False)
    server = await start_server(closed, closed.mongo_url or "")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as api:
            r = await api.post(AUTH + "/register", json={
                "firstName": "Ann", "lastName": "Lee", "email": "ann@example.com", "password": PASSWORD,
            })
            assert_error(r, 403, "Registration is closed; ask an administrator for an account")
            assert await server.services.storage.db.users.count_documents({}) == 0

            made = await admin_cli("users", "create", "--email", "ann@example.com", "--first-name", "Ann",
                                   "--last-name", "Lee", "--password", PASSWORD)
            assert made.exit_code == 0, made.output
            r = await _login(api, "ann@example.com")
            assert r.status_code == 200, r.text
    finally:
        await server.services.storage.client.drop_database(closed.db_name)
        await server.stop()


# --- the contract's envelope for unknown routes -----------------------------------------


@pytest.mark.parametrize("method, path, status", [
    ("GET", "/api/v1/nothing-here", 404),
    ("GET", AUTH + "/register", 405),
    ("DELETE", AUTH + "/me", 405),
])
async def test_unknown_routes_answer_in_the_envelope(api, method, path, status):
    assert_error(await api.request(method, path), status)


async def test_healthz(api):
    r = await api.get("/healthz")
    assert r.status_code == 200
    assert r.json()["success"] is True and r.json()["status"] == "ok"



async def test_password_guessing_is_throttled_per_account(api, make_user):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    for _ in range(5):
        r = await api.post(AUTH + "/login", json={"email": ann.email, "password": "guess1234"})
        assert r.status_code == 401
    # Slowed: from here one try per 20 s (the default), so even the right password is
    # refused for now, with a 429 that says how long to wait, in words and in the header.
    r = await api.post(AUTH + "/login", json={"email": ann.email, "password": ann.password})
    message = assert_error(r, 429)
    wait = int(r.headers["Retry-After"])
    assert 1 <= wait <= 20 and message.endswith(f"try again in {wait} seconds"), (message, wait)
    # Other accounts are not affected, and Ann's open sessions keep working.
    r = await api.post(AUTH + "/login", json={"email": bob.email, "password": bob.password})
    assert r.status_code == 200
    assert (await api.get(AUTH + "/me", headers=ann.headers)).status_code == 200


async def test_a_successful_login_clears_earlier_failures(api, make_user):
    ann = await make_user("Ann")
    for _ in range(3):
        for _ in range(4):  # one short of the burst of 5
            r = await api.post(AUTH + "/login", json={"email": ann.email, "password": "guess1234"})
            assert r.status_code == 401
        r = await api.post(AUTH + "/login", json={"email": ann.email, "password": ann.password})
        assert r.status_code == 200
