"""Interop with the official JavaScript client (socket.io-client v4 on Node), as the
original mobile and web apps use it: raw JWT in the ``authorization`` header."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
from pathlib import Path

import httpx

from tests.helpers.images import pixels, png

JS_DIR = Path(__file__).parent / "js"


def _ensure_node_modules() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    assert node and npm, "the JavaScript interop test needs node and npm on PATH"
    if not (JS_DIR / "node_modules" / "socket.io-client").is_dir():
        cmd = [npm, "ci", "--no-audit", "--no-fund"] if (JS_DIR / "package-lock.json").exists() \
            else [npm, "install", "--no-audit", "--no-fund"]
        done = subprocess.run(cmd, cwd=JS_DIR, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}"
    return node


async def _run_node(node: str, *args: str, check: bool = True, script: str = "interop.mjs") -> tuple[int, list[dict]]:
    """Run a script of tests/js; its exit code and the events it printed. ``check``: fail unless it exits 0."""
    proc = await asyncio.create_subprocess_exec(
        node, str(JS_DIR / script), *args, cwd=JS_DIR,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), 20)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError("the node interop script did not finish within 20s") from None
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert proc.returncode is not None  # for mypy: communicate() waited for the exit
    if check and proc.returncode != 0:
        raise AssertionError(f"node exited {proc.returncode}: events={events} stderr={err.decode()[-2000:]}")
    return proc.returncode, events


async def test_official_js_client_sends_and_receives(api, make_user, sockets, server):
    node = await asyncio.to_thread(_ensure_node_modules)
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    b = await sockets.connect(bob)

    _, events = await _run_node(node, server.url, ann.token, bob.id, "hello from node")
    names = [e["event"] for e in events]
    assert "connect" in names, events
    [ack] = [e["data"] for e in events if e["event"] == "ack"]
    assert ack["success"] is True, ack
    assert ack["message"]["content"] == "hello from node"
    chat_id = ack["message"]["chat"]

    # the Python user got it, from Ann
    nc = await b.next("new-chat")
    assert nc["_id"] == chat_id and nc["to"]["_id"] == ann.id
    assert nc["messages"][0]["content"] == "hello from node"

    # and the JS side saw its own new-chat (with Bob as `to`) and the delivery receipt
    js_new_chat = [e["data"] for e in events if e["event"] == "new-chat"]
    assert js_new_chat and js_new_chat[0]["to"]["_id"] == bob.id, events
    delivered = [e["data"] for e in events if e["event"] == "message-delivered"]
    assert delivered and delivered[0]["messageId"] == ack["message"]["_id"], events


async def test_official_js_client_sees_the_refusal_reason(make_user, server):
    node = await asyncio.to_thread(_ensure_node_modules)
    bob = await make_user("Bob")
    _, events = await _run_node(node, server.url, "not-a-token", bob.id, "x", check=False)
    errors = [e["data"] for e in events if e["event"] == "connect_error"]
    assert errors and errors[0]["message"].strip(), events
    assert errors[0]["message"] not in ("xhr poll error", "websocket error", "timeout"), errors


async def test_javascript_app_uploads_an_image_and_shows_its_url(make_user, sockets, server, tmp_path):
    """The original apps' media flow, unchanged: multipart POST, then the ``content`` URL as is."""
    node = await asyncio.to_thread(_ensure_node_modules)
    ann = await make_user("Ann", "Lee")
    bob = await make_user("Bob", "Ray")
    b = await sockets.connect(bob)
    image = tmp_path / "photo.png"
    image.write_bytes(png(seed=4))
    _, events = await _run_node(node, server.url, ann.token, bob.id, str(image), script="media.mjs")
    [upload] = [e["data"] for e in events if e["event"] == "upload"]
    assert upload["status"] == 201 and upload["body"]["success"] is True, upload
    [shown] = [e["data"] for e in events if e["event"] == "image"]
    assert shown["status"] == 200 and shown["type"] == "image/png", shown
    # the bytes the app showed are what Bob's app gets, and they look exactly like the photo
    event = await b.next("new-chat")
    async with httpx.AsyncClient() as http:
        got = await http.get(event["messages"][0]["content"])
    assert hashlib.sha256(got.content).hexdigest() == shown["sha256"]
    assert pixels(got.content) == pixels(image.read_bytes())
