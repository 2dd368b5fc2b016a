"""``POST /api/v1/chats`` (image upload) and ``GET /api/v1/media/:id`` (the image bytes).

Thin, as every route: the upload is read within its limits (``uploads``), the images
are judged and cleaned off the event loop (``domain.images``), and sending is the
domain's. Serving answers conditional and ``Range`` requests, so a client can cache
an image and a video-style viewer can seek.
"""

from __future__ import annotations

import asyncio
import re

from aiohttp import web

from chatkit.domain.images import clean_image
from chatkit.domain.inputs import parse_id
from chatkit.protocol import Rest
from chatkit.server.context import SERVICES
from chatkit.server.http import authenticated, failure, reply
from chatkit.server.uploads import read_upload
from chatkit.storage.media import StoredFile

routes = web.RouteTableDef()

MEDIA_FIELD = "media"
MAX_FILES = 4
CACHE_SECONDS = 7 * 86400  # a stored image never changes
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@routes.post(Rest.CHATS)
async def upload_images(request: web.Request) -> web.Response:
    ctx = await authenticated(request)
    services = request.app[SERVICES]
    settings = services.settings
    await services.limits.upload(ctx.user_id)  # before a byte of the upload is read
    async with read_upload(request, file_field=MEDIA_FIELD, text_fields=("receiverId", "chatId"),
                           max_files=MAX_FILES, max_bytes=settings.media_max_bytes) as upload:
        fields = upload.fields
        if ("chatId" in fields) == ("receiverId" in fields):
            return failure(400, "Give exactly one of chatId and receiverId")
        if not upload.files:
            return failure(400, f"Attach 1 to {MAX_FILES} images in {MEDIA_FIELD}")
        chat_id = parse_id(fields["chatId"], "chatId") if "chatId" in fields else None
        receiver_id = parse_id(fields["receiverId"], "receiverId") if "receiverId" in fields else None
        images = [await asyncio.to_thread(clean_image, raw, max_pixels=settings.media_max_pixels)
                  for raw in upload.read_files()]
    sent = await services.sending.send_images(ctx.user_id, images, chat_id=chat_id, other_user_id=receiver_id)
    if sent.chat is not None:
        return reply(status=201, chat=sent.chat)
    return reply(status=201, messages=sent.messages)


@routes.get(Rest.MEDIA)
async def get_media(request: web.Request) -> web.StreamResponse:
    services = request.app[SERVICES]
    stored = await services.media.open_for(
        request.match_info["id"], expires=request.query.get("expires"),
        signature=request.query.get("signature"), token=request.headers.get("Authorization"),
    )
    etag = f'"{stored.sha256}"'
    headers = {"ETag": etag, "Cache-Control": f"private, max-age={CACHE_SECONDS}, immutable",
               "Accept-Ranges": "bytes", "Content-Type": stored.content_type}
    if etag in _etags(request.headers.get("If-None-Match")):
        return web.Response(status=304, headers=headers)
    start, end = 0, stored.length
    status = 200
    wanted = _range(request.headers.get("Range"), stored)
    if isinstance(wanted, str):
        return web.Response(status=416, headers={**headers, "Content-Range": f"bytes */{stored.length}"})
    if wanted is not None:
        start, end = wanted
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{stored.length}"
    response = web.StreamResponse(status=status, headers=headers)
    response.content_length = end - start
    await response.prepare(request)
    async for chunk in services.media.read(stored, start, end):
        await response.write(chunk)
    await response.write_eof()
    return response


def _etags(header: str | None) -> set[str]:
    return {t.strip() for t in header.split(",")} if header else set()


def _range(header: str | None, stored: StoredFile) -> tuple[int, int] | str | None:
    """``(start, end)`` exclusive for one satisfiable byte range; None to send it all."""
    if not header:
        return None
    match = _RANGE.match(header.strip())
    if match is None:
        return None  # several ranges or another unit: the whole file is a valid answer
    first, last = match.groups()
    size = stored.length
    if not first and not last:
        return None
    if not first:  # the last N bytes
        n = int(last)
        return (max(0, size - n), size) if n > 0 and size > 0 else "unsatisfiable"
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    if start >= size or (last and int(last) < start):
        return "unsatisfiable"
    return start, end
