"""Requests the HTTP parser refuses, sent as raw bytes: a JSON error that quotes nothing
back, one warning line in the log (never a traceback), and a server that keeps serving."""

from __future__ import annotations

import asyncio
import json
import logging
from urllib.parse import urlsplit

MARK = "ECHOME"  # in every bad request; must never come back
HOST = b"Host: localhost\r\n"

CASES = [
    # (label, raw request, status, message)
    ("9 KB header", b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Big: " + MARK.encode() * 1536 + b"\r\n\r\n",
     431, "Request line or headers too large"),
    ("9 KB URL", b"GET /" + MARK.encode() * 1536 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
     431, "Request line or headers too large"),
    ("bad method", b"<" + MARK.encode() + b"> /healthz HTTP/1.1\r\n" + HOST + b"\r\n",
     400, "Unsupported HTTP method"),
    ("garbage request line", b"\x00\x01" + MARK.encode() + b"\xff\r\n\r\n", 400, "Unsupported HTTP method"),
    ("TLS on the plain port", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + MARK.encode() + b"\r\n\r\n",
     400, "Unsupported HTTP method"),
    ("space in a header name", b"GET /healthz HTTP/1.1\r\n" + HOST + b"Bad " + MARK.encode() + b": x\r\n\r\n",
     400, "Malformed HTTP request"),
    ("bad HTTP version", b"GET /healthz HTTP/" + MARK.encode() + b"\r\n" + HOST + b"\r\n",
     400, "Malformed HTTP request"),
]


async def _exchange(url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` on a fresh connection; the status, headers and body of the reply."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(raw)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 10)  # the server closes after refusing
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


async def test_unparsable_requests_get_a_json_error_that_echoes_nothing(server, api, caplog):
    caplog.set_level(logging.DEBUG)
    for label, raw, status, message in CASES:
        got_status, headers, body = await _exchange(server.url, raw)
        assert got_status == status, (label, got_status, body[:200])
        assert headers.get("content-type", "").startswith("application/json"), (label, headers)
        assert json.loads(body) == {"success": False, "message": message}, (label, body[:200])
        assert MARK.encode() not in body and MARK.lower().encode() not in body, label
    # One warning line per request, naming the kind of error, not its text; no traceback.
    refusals = [r for r in caplog.records if r.name == "chatkit.server.bad_requests"]
    assert len(refusals) == len(CASES), [r.getMessage() for r in refusals]
    assert all(r.levelno == logging.WARNING for r in refusals)
    assert all(MARK not in r.getMessage() for r in caplog.records)
    assert [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    # The server is none the worse.
    r = await api.get("/healthz")
    assert r.status_code == 200 and r.json()["success"] is True


async def test_headers_just_under_the_limit_still_work(api):
    r = await api.get("/healthz", headers={"X-Big": "a" * 8000})
    assert r.status_code == 200
