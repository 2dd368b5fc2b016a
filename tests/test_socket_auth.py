"""Socket.IO authentication: header or auth payload; bad tokens refused with the reason."""

from __future__ import annotations

import time

import pytest

from tests.helpers.accounts import sign_token, token_claims
from tests.helpers.constants import AUTH
from tests.helpers.realtime import ConnectRefused


async def _refused(sockets, token, via="header", transports=("websocket",)) -> str:
    with pytest.raises(ConnectRefused) as info:
        await sockets.connect(token=token, via=via, transports=transports)
    reason = info.value.reason
    assert isinstance(reason, str) and reason.strip(), f"refused without a reason: {info.value}"
    return reason


async def test_header_token_connects_and_can_send(make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann, via="header")
    b = await sockets.connect(bob, via="header")
    await a.send("hi", other_user_id=bob.id)
    await b.next("new-chat")


async def test_bearer_header_is_accepted(make_user, sockets):
    ann = await make_user("Ann")
    a = await sockets.connect(token=f"Bearer {ann.token}", via="header")
    assert a.connected


async def test_auth_payload_token_connects(make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann, via="auth")
    b = await sockets.connect(bob, via="auth")
    await a.send("from a browser", other_user_id=bob.id)
    ev = await b.next("new-chat")
    assert ev["messages"][0]["content"] == "from a browser"


async def test_polling_transport_works(make_user, sockets):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    a = await sockets.connect(ann, transports=["polling"])
    b = await sockets.connect(bob, transports=["polling"])
    chat_id = (await a.send("over polling", other_user_id=bob.id))["chat"]
    await b.next("new-chat")
    await b.send("reply over polling", chat_id=chat_id)
    ev = await a.next("message")
    assert ev["content"] == "reply over polling" and ev["isMyMsg"] is False


async def test_no_token_is_refused(sockets):
    await _refused(sockets, None, via="none")
    await _refused(sockets, None, via="auth")


async def test_garbage_and_forged_tokens_are_refused(make_user, sockets):
    ann = await make_user("Ann")
    await _refused(sockets, "not-a-jwt")
    await _refused(sockets, "not-a-jwt", via="auth")
    await _refused(sockets, sign_token(token_claims(ann.id), "some-other-secret-" + "y" * 32))
    await _refused(sockets, ann.token[:-3] + ("aaa" if not ann.token.endswith("aaa") else "bbb"))
    unsigned = sign_token(token_claims(ann.id), secret=None, algorithm="none")
    await _refused(sockets, unsigned)
    await _refused(sockets, unsigned, via="auth")


async def test_expired_token_is_refused_with_an_expiry_reason(make_user, sockets):
    ann = await make_user("Ann")
    old = int(time.time()) - 7200
    reason = await _refused(sockets, sign_token(token_claims(ann.id, iat=old, exp=old + 60)))
    assert "expired" in reason.lower()


async def test_well_signed_token_without_a_session_is_refused(make_user, sockets):
    ann = await make_user("Ann")
    await _refused(sockets, sign_token(token_claims(ann.id)))  # right secret, but never issued by a login


async def test_logged_out_session_is_refused_on_next_connect(api, make_user, sockets):
    ann = await make_user("Ann")
    a = await sockets.connect(ann)
    assert a.connected
    r = await api.post(AUTH + "/log-out", headers=ann.headers)
    assert r.status_code == 200, r.text
    await _refused(sockets, ann.token)
    await _refused(sockets, ann.token, via="auth")


async def test_other_session_of_the_same_user_still_connects_after_logout(api, make_user, sockets):
    ann = await make_user("Ann")
    r = await api.post(AUTH + "/login", json={"email": ann.email, "password": ann.password})
    second = r.json()["data"]["token"]
    await api.post(AUTH + "/log-out", headers=ann.headers)
    await _refused(sockets, ann.token)
    p = await sockets.connect(token=second)
    assert p.connected


async def test_password_change_refuses_old_tokens(api, make_user, sockets):
    ann = await make_user("Ann")
    r = await api.patch(AUTH + "/change-password", headers=ann.headers,
                        json={"currentPassword": ann.password, "newPassword": "a brand new pass 2"})
    assert r.status_code == 200, r.text
    await _refused(sockets, ann.token)
    fresh = r.json()["data"]["token"]
    await sockets.connect(token=fresh)


async def test_banned_and_deactivated_users_are_refused(make_user, sockets, admin):
    ann = await make_user("Ann")
    bob = await make_user("Bob")
    await admin("users", "ban", ann.email)
    await admin("users", "deactivate", bob.email)
    assert "blocked" in (await _refused(sockets, ann.token)).lower()
    assert "deactivated" in (await _refused(sockets, bob.token)).lower()
