"""Profile pictures, profile changes and the language of replies, over the wire.

Pictures go through the chat images' pipeline (re-encoded without EXIF or GPS) and come
back as signed URLs; ``lang: ar`` (or a stored ``lang``) turns error sentences Arabic;
bad input to the new endpoints is a 400 that names the problem.
"""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from PIL import Image

from chatkit.domain.language import ARABIC_SENTENCES, translate
from chatkit.protocol import Sentence
from tests.helpers.accounts import Account, auth_header
from tests.helpers.constants import AUTH, PASSWORD
from tests.helpers.failures import assert_error
from tests.helpers.images import jpeg_from_a_phone, png
from tests.helpers.mailbox import MAIL
from tests.helpers.realtime import ConnectRefused

LANG = "/api/v1/actions/lang"


def _fields(email: str) -> dict[str, str]:
    return {"firstName": "Ann", "lastName": "Lee", "email": email, "password": PASSWORD}


async def _fetch_upright_without_exif(url: str) -> None:
    async with httpx.AsyncClient() as anonymous:  # a signed URL needs no header
        got = await anonymous.get(url)
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg", got.text[:200]
    with Image.open(io.BytesIO(got.content)) as image:
        assert image.size == (20, 40)  # turned upright
        assert dict(image.getexif()) == {}
        assert "comment" not in image.info and "exif" not in image.info
    assert b"shot at home" not in got.content and b"GPS" not in got.content


async def test_profile_picture_at_register_is_stripped_and_served(api, make_user):
    email = f"ann.{uuid.uuid4().hex[:8]}@example.com"
    r = await api.post(AUTH + "/register", data=_fields(email),
                       files={"profilePicture": ("me.jpg", jpeg_from_a_phone(40, 20), "image/jpeg")})
    assert r.status_code == 201, r.text
    user = r.json()["data"]
    assert user["token"] and "/api/v1/media/" in user["profilePicture"] and "signature=" in user["profilePicture"]
    await _fetch_upright_without_exif(user["profilePicture"])
    me = (await api.get(AUTH + "/me", headers=auth_header(user["token"]))).json()["data"]
    await _fetch_upright_without_exif(me["profilePicture"])
    # Without a signature, another signed-in user may load it; nobody else.
    path = "/api/v1/media/" + user["profilePicture"].split("/api/v1/media/")[1].split("?")[0]
    other = await make_user("Bob", "Ray")
    assert (await api.get(path, headers=other.headers)).status_code == 200
    assert_error(await api.get(path), 404)


@pytest.mark.parametrize("settings", [MAIL], indirect=True)
async def test_profile_picture_at_register_with_verification(api, mailbox):
    email = f"ann.{uuid.uuid4().hex[:8]}@example.com"
    r = await api.post(AUTH + "/register", data=_fields(email),
                       files={"image": ("me.jpg", jpeg_from_a_phone(40, 20), "image/jpeg")})
    assert r.status_code == 200, r.text
    await _fetch_upright_without_exif(r.json()["data"]["profilePicture"])


async def test_patch_me_changes_names_picture_and_lang(api, make_user):
    ann: Account = await make_user()
    r = await api.patch(AUTH + "/me", headers=ann.headers, json={"firstName": " Anna ", "lang": "ar"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["firstName"] == "Anna" and r.json()["data"]["lang"] == "ar"
    assert r.json()["message"] == ARABIC_SENTENCES[Sentence.PROFILE_UPDATED]  # her stored language now
    r = await api.patch(AUTH + "/me", headers=ann.headers, files={"profilePicture": ("a.png", png(), "image/png")},
                        data={"lastName": "Lim"})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["lastName"] == "Lim" and "signature=" in r.json()["data"]["profilePicture"]
    bob = await make_user("Bob", "Ray")
    found = await api.get("/api/v1/chats/users", headers=bob.headers, params={"search": "anna lim"})
    assert [u["_id"] for u in found.json()["data"]] == [ann.id]  # searchable by the new name
    assert_error(await api.patch(AUTH + "/me", headers=ann.headers,
                                 files={"profilePicture": ("a.txt", b"not an image", "image/png")}), 415)


async def test_others_see_a_profile_picture_as_a_signed_url(api, make_user, sockets):
    """In the user search, the chat listing and ``new-chat``: a URL an app loads as is."""
    ann: Account = await make_user()
    r = await api.patch(AUTH + "/me", headers=ann.headers, files={"profilePicture": ("a.png", png(), "image/png")})
    assert r.status_code == 200, r.text
    bob = await make_user("Bob", "Ray")
    b = await sockets.connect(bob)
    a = await sockets.connect(ann)
    await a.send("hi", other_user_id=bob.id)
    opened = await b.next("new-chat")
    found = (await api.get("/api/v1/chats/users", headers=bob.headers, params={"search": "ann"})).json()["data"]
    listed = (await api.get("/api/v1/chats", headers=bob.headers)).json()["data"]
    pictures = [opened["to"]["profilePicture"], found[0]["profilePicture"], listed[0]["to"]["profilePicture"]]
    for url in pictures:
        assert url.startswith("http") and "signature=" in url, pictures
        async with httpx.AsyncClient() as anonymous:
            got = await anonymous.get(url)
        assert got.status_code == 200 and got.headers["content-type"] == "image/png"


async def test_lang_header_and_stored_lang_give_arabic_errors(api, make_user):
    ann: Account = await make_user()
    bad_login = {"email": ann.email, "password": "wrong password"}
    assert_error(await api.post(AUTH + "/login", json=bad_login, headers={"lang": "ar"}), 401,
                 "البريد الإلكتروني أو كلمة المرور غير صحيحة")
    assert_error(await api.post(AUTH + "/login", json=bad_login), 401, Sentence.BAD_LOGIN)
    assert_error(await api.post(AUTH + "/login", json={"email": ann.email}, headers={"lang": "ar"}), 400,
                 "الحقل password مطلوب")
    # The stored choice applies without the header; the header wins over it.
    r = await api.post(LANG, headers=ann.headers, json={"lang": "ar"})
    assert r.status_code == 200 and r.json()["data"]["lang"] == "ar", r.text
    assert r.json()["message"] == ARABIC_SENTENCES[Sentence.LANG_SET]
    unknown_chat = "/api/v1/chats/0123456789abcdef01234567"
    assert_error(await api.get(unknown_chat, headers=ann.headers), 404, ARABIC_SENTENCES[Sentence.CHAT_NOT_FOUND])
    assert_error(await api.get(unknown_chat, headers={**ann.headers, "lang": "en"}), 404, Sentence.CHAT_NOT_FOUND)
    assert_error(await api.post(LANG, headers=ann.headers, json={"lang": "fr"}), 400,
                 ARABIC_SENTENCES[Sentence.UNKNOWN_LANG])


async def test_socket_refusals_follow_the_lang_header_and_the_stored_lang(api, make_user, sockets):
    ann: Account = await make_user()
    unknown_chat = {"chatId": "0123456789abcdef01234567"}
    with pytest.raises(ConnectRefused) as refused:
        await sockets.connect(token="not a token", headers={"lang": "ar"})
    assert refused.value.reason == translate(Sentence.INVALID_TOKEN, "ar") != Sentence.INVALID_TOKEN
    arabic = await sockets.connect(ann, headers={"lang": "ar"})
    ack = await arabic.emit_ack("typing", unknown_chat)
    assert ack == {"success": False, "message": ARABIC_SENTENCES[Sentence.CHAT_NOT_FOUND]}
    assert (await arabic.next("error"))["message"] == ARABIC_SENTENCES[Sentence.CHAT_NOT_FOUND]
    english = await sockets.connect(ann)
    assert (await english.emit_ack("typing", unknown_chat))["message"] == Sentence.CHAT_NOT_FOUND
    # Her stored choice applies to sockets opened after it, without the header.
    assert (await api.post(LANG, headers=ann.headers, json={"lang": "ar"})).status_code == 200
    later = await sockets.connect(ann)
    assert (await later.emit_ack("typing", unknown_chat))["message"] == ARABIC_SENTENCES[Sentence.CHAT_NOT_FOUND]


def test_every_sentence_has_arabic() -> None:
    sentences = {v for k, v in vars(Sentence).items() if k.isupper()}
    missing = sorted(s for s in sentences if not ARABIC_SENTENCES.get(s))
    assert missing == []


@pytest.mark.parametrize("settings", [MAIL], indirect=True)
@pytest.mark.parametrize(("path", "body", "status"), [
    ("/verify-account", {"code": "123456"}, 400),  # no email
    ("/verify-account", {"email": "a@b.co"}, 400),  # no code
    ("/verify-account", {"email": "a@b.co", "code": "123456", "otp": "123456"}, 400),  # both names
    ("/verify-account", {"email": "a@b.co", "code": "123456", "admin": True}, 400),  # extra field
    ("/verify-account", {"email": ["a@b.co"], "code": "123456"}, 400),  # wrong type
    ("/verify-account", {"email": "a@b.co", "code": 12.5}, 400),
    ("/verify-account", {"email": "a@b.co", "code": "x" * 100_000}, 400),  # huge
    ("/verify-account", {"email": "a" * 100_000 + "@b.co", "code": "123456"}, 400),
    ("/send-otp", {}, 400),
    ("/send-otp", {"email": "not an address"}, 400),
    ("/send-otp", {"email": 5}, 400),
    ("/send-otp", {"email": "a@b.co", "extra": 1}, 400),
    ("/send-otp", {"email": "a" * 100_000}, 400),
    ("/verify-otp", {}, 400),
    ("/verify-otp", {"otp": None}, 400),
    ("/verify-otp", {"otp": "12345"}, 400),
    ("/verify-otp", {"otp": True}, 400),
    ("/verify-otp", {"email": "a@b.co", "otp": "123456", "notificationToken": "t" * 5000}, 400),
])
async def test_bad_input_to_the_code_endpoints_is_a_400(api, mailbox, path, body, status):
    assert_error(await api.post(AUTH + path, json=body), status)
    assert_error(await api.post(AUTH + path, content=b"[1, 2"), 400)


async def test_bad_input_to_profile_and_lang_is_a_400(api, make_user):
    ann: Account = await make_user()
    for body in ({"lang": 5}, {"lang": "x" * 100_000}, {"firstName": ""}, {"firstName": "a" * 101},
                 {"email": "new@example.com"}, {"password": "new password"}, []):
        assert_error(await api.patch(AUTH + "/me", headers=ann.headers, json=body), 400, label=body)
    for body in ({}, {"lang": None}, {"lang": "de"}, {"lang": "ar", "x": 1}):
        assert_error(await api.post(LANG, headers=ann.headers, json=body), 400, label=body)
    assert_error(await api.post(LANG, json={"lang": "ar"}), 401)
    assert_error(await api.post(AUTH + "/register", data={"firstName": "A"},
                                files={"profilePicture": ("a.png", png(), "image/png")}), 400)
    assert_error(await api.post(AUTH + "/register", data={"unknown": "A"},
                                files={"profilePicture": ("a.png", png(), "image/png")}), 400)
