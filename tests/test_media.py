"""Image messages: upload (multipart), storage in GridFS, signed URLs that apps can show."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from bson import ObjectId
from PIL import Image

from tests.helpers.accounts import register
from tests.helpers.constants import UNKNOWN_ID
from tests.helpers.failures import assert_error
from tests.helpers.images import bomb_png, jpeg_from_a_phone, pixels, png
from tests.helpers.processes import Server, child_env
from tests.helpers.rest import block_ok, messages

UPLOAD = "/api/v1/chats"


def files(*blobs: bytes, names: tuple[str, ...] = ()) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("media", (names[i] if i < len(names) else f"img{i}.png", blob, "application/octet-stream"))
            for i, blob in enumerate(blobs)]


async def upload(api: httpx.AsyncClient, account, *blobs: bytes, names: tuple[str, ...] = (), **fields: str):
    return await api.post(UPLOAD, headers=account.headers, data=fields, files=files(*blobs, names=names))


async def stored_counts(db) -> tuple[int, int, int]:
    return (await db.messages.count_documents({"type": "image"}), await db["media.files"].count_documents({}),
            await db["media.chunks"].count_documents({}))


async def test_three_images_to_a_new_chat(api, db, pair):
    ann, bob, a, b = pair
    originals = [png(seed=1), png(40, 10, seed=2), png(12, 12, seed=3)]
    r = await upload(api, ann, *originals, receiverId=bob.id)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["success"] is True and set(body) == {"success", "chat"}
    chat = body["chat"]
    assert chat["to"]["_id"] == bob.id
    assert [m["type"] for m in chat["messages"]] == ["image"] * 3

    # each side: one new-chat (the first image), then two message events, in upload order
    for peer in (a, b):
        opened = await peer.next("new-chat")
        rest = await peer.collect("message", 2)
        urls = [opened["messages"][0]["content"], *(m["content"] for m in rest)]
        assert all(u.startswith("http://127.0.0.1:") and "/api/v1/media/" in u for u in urls)
        async with httpx.AsyncClient() as anonymous:  # the URL alone loads the image
            for url, original in zip(urls, originals, strict=True):
                got = await anonymous.get(url)
                assert got.status_code == 200, got.text
                assert got.headers["content-type"] == "image/png"
                assert pixels(got.content) == pixels(original)
    stored = await db.messages.find({"type": "image"}).sort("createdAt", 1).to_list(None)
    assert len(stored) == 3
    assert all(m["content"] == f"/api/v1/media/{m['media']}" for m in stored)  # no signature stored
    # the listing and the message page serve signed URLs too
    page = await messages(api, bob, chat["_id"])
    assert all("signature=" in m["content"] for m in page)


async def test_images_to_an_existing_chat_reply_with_messages(api, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    r = await upload(api, bob, png(seed=5), chatId=chat_id)
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"success", "messages"}
    (msg,) = body["messages"]
    assert msg["type"] == "image" and msg["isMyMsg"] is True and msg["chat"] == chat_id
    event = await a.next("message", match=lambda m: m["type"] == "image")
    assert event["_id"] == msg["_id"] and event["isMyMsg"] is False


async def test_a_jpeg_from_a_phone_comes_back_upright_without_exif(api, pair):
    ann, bob, a, b = pair
    r = await upload(api, ann, jpeg_from_a_phone(40, 20), receiverId=bob.id)
    assert r.status_code == 201, r.text
    url = r.json()["chat"]["messages"][0]["content"]
    async with httpx.AsyncClient() as anonymous:
        got = await anonymous.get(url)
    assert got.headers["content-type"] == "image/jpeg"
    with Image.open(io.BytesIO(got.content)) as image:
        assert image.size == (20, 40)  # turned upright
        assert dict(image.getexif()) == {}  # no orientation, no GPS, nothing
        assert "comment" not in image.info and "exif" not in image.info and "xmp" not in image.info
        rgb = image.convert("RGB")
        top, bottom = rgb.getpixel((10, 5)), rgb.getpixel((10, 35))
    assert top[0] > 200 and top[2] < 50  # the red half is now on top
    assert bottom[2] > 200 and bottom[0] < 50
    assert b"shot at home" not in got.content and b"GPS" not in got.content


async def test_kinds_are_judged_by_their_bytes(api, db, pair):
    ann, bob, a, b = pair
    r = await upload(api, ann, png(), names=("holiday.jpg",), receiverId=bob.id)  # a PNG named .jpg
    assert r.status_code == 201, r.text
    async with httpx.AsyncClient() as anonymous:
        got = await anonymous.get(r.json()["chat"]["messages"][0]["content"])
    assert got.headers["content-type"] == "image/png"
    before = await stored_counts(db)
    refused = [
        ("text named .png", b"just some text, honestly" * 10, 415),
        ("truncated", jpeg_from_a_phone(400, 300)[:900], 415),
        ("decompression bomb", bomb_png(), 413),
        ("bomb under Pillow's own limit", bomb_png(9000, 9000), 413),
        ("empty", b"", 415),
    ]
    for label, blob, status in refused:
        r = await upload(api, ann, png(), blob, names=("ok.png", "photo.png"), receiverId=bob.id)
        assert_error(r, status, label=label)
    assert await stored_counts(db) == before  # the good first file of each was not kept either


async def test_bad_forms(api, db, make_user, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    before = await stored_counts(db)
    cases = [
        ("no files", await api.post(UPLOAD, headers=ann.headers, data={"receiverId": bob.id},
                                    files=[("other", ("x", b"y", "text/plain"))]), 400),
        ("no files at all", await api.post(UPLOAD, headers=ann.headers, data={"receiverId": bob.id},
                                           files=[]), 400),
        ("five files", await upload(api, ann, *[png(seed=i) for i in range(5)], receiverId=bob.id), 400),
        ("both ids", await upload(api, ann, png(), receiverId=bob.id, chatId=chat_id), 400),
        ("neither id", await upload(api, ann, png()), 400),
        ("bad id", await upload(api, ann, png(), receiverId="nope"), 400),
        ("unknown receiver", await upload(api, ann, png(), receiverId=UNKNOWN_ID), 404),
        ("unknown chat", await upload(api, ann, png(), chatId=UNKNOWN_ID), 404),
        ("to myself", await upload(api, ann, png(), receiverId=ann.id), 400),
        ("json body", await api.post(UPLOAD, headers=ann.headers, json={"receiverId": bob.id}), 400),
        ("no token", await api.post(UPLOAD, data={"receiverId": bob.id}, files=files(png())), 401),
        ("extra field", await upload(api, ann, png(), receiverId=bob.id, caption="hi"), 400),
    ]
    cat = await make_user("Cat")
    cases.append(("outsider's chat", await upload(api, cat, png(), chatId=chat_id), 404))
    for label, r, status in cases:
        assert_error(r, status, label=label)
    assert await stored_counts(db) == before


async def test_blocked_sender_is_refused_with_nothing_stored(api, db, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    await block_ok(api, bob, ann.id)
    before = await stored_counts(db)
    assert_error(await upload(api, ann, png(), chatId=chat_id), 403, "You can't send a message to a blocked user")
    assert_error(await upload(api, bob, png(), chatId=chat_id), 403)  # both ways
    assert await stored_counts(db) == before


@contextlib.asynccontextmanager
async def failing_inserts(db, after: int):
    """Every ``insert`` by the server fails once ``after`` of them went through (a MongoDB failpoint)."""
    admin = db.client.admin
    await admin.command({"configureFailPoint": "failCommand", "mode": {"skip": after},
                         "data": {"failCommands": ["insert"], "errorCode": 2, "appName": "chatkit"}})
    try:
        yield
    finally:
        await admin.command({"configureFailPoint": "failCommand", "mode": "off"})


async def test_a_failure_part_way_leaves_no_message_and_no_file(api, db, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    before = await stored_counts(db)
    # each stored image is two inserts (its chunk, then its file document): the third image fails
    async with failing_inserts(db, after=4):
        r = await upload(api, ann, png(seed=1), png(seed=2), png(seed=3), chatId=chat_id)
    assert r.status_code == 500, r.text  # the database refused a write: our failure, not the client's
    assert r.json()["success"] is False and "Traceback" not in r.text
    assert await stored_counts(db) == before
    # and when the message insert itself fails, the files go too
    async with failing_inserts(db, after=6):
        r = await upload(api, ann, png(seed=1), png(seed=2), png(seed=3), chatId=chat_id)
    assert r.json()["success"] is False
    assert await stored_counts(db) == before
    await b.no_event("message", match=lambda m: m["type"] == "image")
    # nothing is stuck: the same upload works now
    assert (await upload(api, ann, png(seed=1), chatId=chat_id)).status_code == 201


def _signed(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", {k: v[0] for k, v in parse_qs(parts.query).items()}


async def test_who_may_load_an_image(api, make_user, pair):
    ann, bob, a, b = pair
    r = await upload(api, ann, png(), receiverId=bob.id)
    url = r.json()["chat"]["messages"][0]["content"]
    bare, query = _signed(url)
    cat = await make_user("Cat")
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        # the participants' tokens work without a signature; anyone else sees what a missing id gets
        assert (await http.get(bare, headers=ann.headers)).status_code == 200
        assert (await http.get(bare, headers=bob.headers)).status_code == 200
        missing = assert_error(await http.get(bare.rsplit("/", 1)[0] + "/" + UNKNOWN_ID, headers=ann.headers), 404)
        tampered = query["signature"][:-1] + ("0" if query["signature"][-1] != "0" else "1")
        later = str(int(query["expires"]) + 3600)
        for label, response in [
            ("outsider with his token", await http.get(bare, headers=cat.headers)),
            ("outsider with the signature of a different expiry", await http.get(
                f"{bare}?{urlencode({'expires': later, 'signature': query['signature']})}")),
            ("no signature, no token", await http.get(bare)),
            ("tampered signature", await http.get(f"{bare}?{urlencode({**query, 'signature': tampered})}")),
            ("garbage token", await http.get(bare, headers={"Authorization": "nonsense"})),
            ("bad id", await http.get(bare.rsplit("/", 1)[0] + "/xyz")),
        ]:
            assert assert_error(response, 404, label=label) == missing, label


@pytest.mark.parametrize("settings", [{"media_url_days": 2 / 86400}], indirect=True)
async def test_a_signed_url_expires(api, pair):
    ann, bob, a, b = pair
    r = await upload(api, ann, png(), receiverId=bob.id)
    url = r.json()["chat"]["messages"][0]["content"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200
        expires = int(_signed(url)[1]["expires"])
        await asyncio.sleep(max(0.0, expires - time.time()) + 1.1)
        assert_error(await http.get(url), 404)
        # re-served, the message carries a fresh URL that works again
        fresh = (await messages(api, bob, r.json()["chat"]["_id"]))[0]["content"]
        assert fresh != url and (await http.get(fresh)).status_code == 200


async def test_caching_headers_and_ranges(api, pair):
    ann, bob, a, b = pair
    original = png(64, 64, seed=9)
    r = await upload(api, ann, original, receiverId=bob.id)
    url = r.json()["chat"]["messages"][0]["content"]
    async with httpx.AsyncClient() as http:
        whole = await http.get(url)
        size = len(whole.content)
        assert int(whole.headers["content-length"]) == size
        assert whole.headers["etag"].startswith('"') and "private" in whole.headers["cache-control"]
        assert whole.headers["accept-ranges"] == "bytes"
        assert (await http.get(url, headers={"If-None-Match": whole.headers["etag"]})).status_code == 304
        part = await http.get(url, headers={"Range": "bytes=10-19"})
        assert part.status_code == 206 and part.content == whole.content[10:20]
        assert part.headers["content-range"] == f"bytes 10-19/{size}"
        tail = await http.get(url, headers={"Range": "bytes=-5"})
        assert tail.status_code == 206 and tail.content == whole.content[-5:]
        rest = await http.get(url, headers={"Range": f"bytes={size - 3}-"})
        assert rest.content == whole.content[-3:]
        beyond = await http.get(url, headers={"Range": f"bytes={size + 10}-"})
        assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{size}"


async def test_messages_written_by_the_original_backend_pass_through(api, db, pair):
    ann, bob, a, b = pair
    chat_id = await pair.start_chat()
    firebase = "https://firebasestorage.googleapis.com/v0/b/app/o/x.jpg?alt=media&token=abc"
    await db.messages.insert_one({
        "chat": ObjectId(chat_id), "sender": ObjectId(ann.id), "receiver": ObjectId(bob.id), "content": firebase,
        "type": "image", "isDelivered": True, "isRead": True,
        "createdAt": datetime.now(UTC),
    })
    page = await messages(api, bob, chat_id)
    assert page[0]["content"] == firebase


def _rss_kib(pid: int) -> int:
    for line in open(f"/proc/{pid}/status").read().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_an_oversized_file_is_refused_while_it_streams(tmp_path, settings):
    """413 for an 11 MiB file, and the server's memory does not grow by what it was sent."""
    env = child_env(CHATKIT_JWT_SECRET="media-test-secret-0123456789")
    server = Server(tmp_path / "serve.log", ["--mongo-url", settings.mongo_url or "", "--db-name", settings.db_name,
                                             "--data-dir", str(tmp_path / "data"), "--port", "0"], env)
    try:
        http = server.http
        r = http.post("/api/v1/users/auth/register", json={"firstName": "Ann", "lastName": "Lee",
                                                           "email": "ann@example.com", "password": "correct horse 1"})
        ann = r.json()["data"]
        r = http.post("/api/v1/users/auth/register", json={"firstName": "Bob", "lastName": "Ray",
                                                           "email": "bob@example.com", "password": "correct horse 1"})
        bob = r.json()["data"]
        headers = {"Authorization": ann["token"]}
        ok = http.post(UPLOAD, headers=headers, data={"receiverId": bob["_id"]}, files=files(png()))
        assert ok.status_code == 201, ok.text  # warm: every module the upload path needs is loaded
        before = _rss_kib(server.proc.pid)
        for size in (11 * 1024 * 1024, 30 * 1024 * 1024):
            big = png() + b"\0" * size
            r = http.post(UPLOAD, headers=headers, data={"receiverId": bob["_id"]}, files=files(big))
            assert_error(r, 413)
        grown = _rss_kib(server.proc.pid) - before
        assert grown < 6 * 1024, f"the server grew by {grown} KiB while refusing 41 MiB"
        chat_id = ok.json()["chat"]["_id"]
        listed = http.get(f"/api/v1/chats/{chat_id}/messages", headers=headers).json()["data"]
        assert len(listed) == 1  # only the warm-up image was stored
    finally:
        server.stop()


async def test_admin_media_reports_and_prunes_orphans(api, db, admin, pair):
    ann, bob, a, b = pair
    kept = (await upload(api, ann, png(seed=1), receiverId=bob.id)).json()["chat"]["_id"]
    cat = await register(api, "Cat", "Ng")
    cat_chat = await upload(api, bob, png(seed=2), png(seed=3), receiverId=cat.id)
    orphan_chat = cat_chat.json()["chat"]["_id"]
    total = await db["media.files"].count_documents({})
    assert total == 3
    report = json.loads((await admin("media", "--json")).output)
    assert report["files"] == 3 and report["bytes"] > 0 and report["orphans"] == []

    # an operator deletes the chat with Cat: its two images are orphans now
    await admin("clear", orphan_chat, "--all", "--yes")
    # young orphans may be an upload still in progress: not reported until an hour old
    assert json.loads((await admin("media", "--json")).output)["orphans"] == []
    await db["media.files"].update_many({"metadata.chat": ObjectId(orphan_chat)},
                                        {"$set": {"uploadDate": datetime.now(UTC) - timedelta(hours=2)}})
    report = json.loads((await admin("media", "--json")).output)
    assert len(report["orphans"]) == 2 and all(o["chat"] == orphan_chat for o in report["orphans"])
    human = (await admin("media")).output
    assert all(o["_id"] in human for o in report["orphans"]) and "--prune-orphans" in human
    pruned = json.loads((await admin("media", "--prune-orphans", "--yes", "--json")).output)
    assert len(pruned["pruned"]) == 2 and pruned["orphans"] == [] and pruned["files"] == 1
    assert await db["media.chunks"].count_documents({}) == 1
    # the image still referenced loads as before
    url = (await messages(api, ann, kept))[0]["content"]
    async with httpx.AsyncClient() as http:
        assert (await http.get(url)).status_code == 200


async def test_a_sent_media_path_is_never_signed(api, make_user, pair):
    """A client can put any text in an image message; it must not become a key to someone's file."""
    ann, bob, a, b = pair
    cat = await make_user("Cat")
    private = await upload(api, ann, png(seed=7), receiverId=cat.id)  # Ann -> Cat only
    path = "/api/v1/media/" + _signed(private.json()["chat"]["messages"][0]["content"])[0].rsplit("/", 1)[1]
    sent = await b.send(path, other_user_id=ann.id, type="image")
    assert sent["content"] == path  # served as sent: unsigned
    got = await a.next("new-chat", match=lambda e: e["to"]["_id"] == bob.id)
    assert got["messages"][0]["content"] == path
    async with httpx.AsyncClient(base_url=private.url.scheme + "://" + private.url.netloc.decode()) as http:
        assert_error(await http.get(path), 404)
        assert_error(await http.get(path, headers=bob.headers), 404)  # Bob is no participant of it
