"""Reading a multipart upload without trusting it: limits are enforced while it streams.

Each file part is spooled (in memory up to ``SPOOL_BYTES``, then in a temporary file)
and refused with 413 the moment it passes the size limit, so an oversized upload is
never held whole in memory nor written anywhere lasting. Names, counts and field
sizes are checked as parts arrive.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from chatkit.domain.errors import BadRequest, PayloadTooLarge

SPOOL_BYTES = 1024 * 1024
FIELD_MAX = 256  # text fields are ids: anything longer is not one
CHUNK = 64 * 1024


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    files: list[IO[bytes]] = field(default_factory=list)

    def read_files(self) -> Iterator[bytes]:
        for spooled in self.files:
            spooled.seek(0)
            yield spooled.read()

    def close(self) -> None:
        for spooled in self.files:
            spooled.close()


@contextlib.asynccontextmanager
async def read_upload(
    request: web.Request, *, file_field: str | tuple[str, ...], text_fields: tuple[str, ...], max_files: int,
    max_bytes: int, field_max: int = FIELD_MAX,
) -> AsyncIterator[Upload]:
    """The upload's text fields and spooled files; temporary files are removed on exit.

    ``file_field`` may name several accepted names for the file part (``profilePicture``
    or ``image``); ``field_max`` bounds each text field, in bytes."""
    file_fields = (file_field,) if isinstance(file_field, str) else file_field
    if not request.content_type.startswith("multipart/form-data"):
        raise BadRequest("The body must be multipart/form-data")
    overhead = 64 * 1024
    if request.content_length is not None and request.content_length > max_files * (max_bytes + overhead):
        raise PayloadTooLarge(f"Each file must be at most {max_bytes} bytes, and at most {max_files} files")
    upload = Upload()
    try:
        try:
            reader = await request.multipart()
        except (ValueError, AssertionError, HttpProcessingError) as exc:
            raise BadRequest(f"Malformed multipart body: {exc}") from None
        while True:
            try:
                part = await reader.next()
            except (ValueError, AssertionError, HttpProcessingError):  # e.g. a part's header line is garbage
                raise BadRequest("Malformed multipart body") from None
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise BadRequest("Nested multipart bodies are not accepted")
            name = part.name or ""
            if name in file_fields:
                if len(upload.files) == max_files:
                    raise BadRequest(f"Attach at most {max_files} files in {' or '.join(file_fields)}")
                upload.files.append(await _spool(part, max_bytes))
            elif name in text_fields:
                if name in upload.fields:
                    raise BadRequest(f"{name} is given twice")
                upload.fields[name] = await _text(part, name, field_max)
            else:
                raise BadRequest(f"Unexpected field: {name[:64]}")
        yield upload
    finally:
        upload.close()


async def _spool(part: BodyPartReader, max_bytes: int) -> IO[bytes]:
    spooled: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # closed by Upload
    size = 0
    try:
        while chunk := await part.read_chunk(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"Each file must be at most {max_bytes} bytes")
            spooled.write(chunk)
    except BaseException:
        spooled.close()
        raise
    return spooled


async def _text(part: BodyPartReader, name: str, limit: int = FIELD_MAX) -> str:
    raw = bytearray()
    while chunk := await part.read_chunk(limit + 1):
        raw += chunk
        if len(raw) > limit:
            raise BadRequest(f"{name} is too long")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"{name} must be valid UTF-8 text") from None
