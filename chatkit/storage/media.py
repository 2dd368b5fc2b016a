"""Stored images: a GridFS bucket ``media`` (``media.files`` + ``media.chunks``).

Only images chatkit itself re-encoded are written here (metadata stripped, see
``chatkit.domain.images``). Each file's ``metadata`` names the chat it was sent in and
the uploader, so access checks need no message lookup; image messages carry the
file's id in ``media`` so orphans can be found.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from gridfs import AsyncGridFSBucket, NoFile
from pymongo.asynchronous.database import AsyncDatabase

BUCKET = "media"


@dataclass(frozen=True)
class StoredFile:
    file_id: ObjectId
    length: int
    content_type: str
    sha256: str
    chat_id: ObjectId | None
    uploaded_at: datetime


@dataclass(frozen=True)
class MediaTotals:
    files: int
    bytes: int


class MediaStore:
    def __init__(self, db: AsyncDatabase[Any]) -> None:
        self.bucket = AsyncGridFSBucket(db, bucket_name=BUCKET)
        self.files = db[f"{BUCKET}.files"]
        self.messages = db["messages"]

    async def put(self, data: bytes, *, content_type: str, sha256: str, chat_id: ObjectId | None,
                  uploader: ObjectId, width: int, height: int, profile_of: ObjectId | None = None) -> ObjectId:
        """``chat_id`` None and ``profile_of`` set: a profile picture (no chat, never an orphan)."""
        file_id = ObjectId()
        metadata: dict[str, Any] = {"contentType": content_type, "sha256": sha256, "chat": chat_id,
                                    "uploader": uploader, "width": width, "height": height}
        if profile_of is not None:
            metadata["profileOf"] = profile_of
        await self.bucket.upload_from_stream_with_id(file_id, str(file_id), data, metadata=metadata)
        return file_id

    async def info(self, file_id: ObjectId) -> StoredFile | None:
        doc = await self.files.find_one({"_id": file_id})
        return None if doc is None else _stored(doc)

    async def read(self, file_id: ObjectId, start: int = 0, end: int | None = None) -> AsyncIterator[bytes]:
        """The file's bytes from ``start`` up to ``end`` (exclusive), chunk by chunk."""
        stream = await self.bucket.open_download_stream(file_id)
        try:
            await stream.seek(start)
            remaining = (end if end is not None else stream.length) - start
            while remaining > 0:
                chunk = await stream.readchunk()
                if not chunk:
                    return
                chunk = chunk[:remaining]
                remaining -= len(chunk)
                yield chunk
        finally:
            await stream.close()

    async def delete(self, file_id: ObjectId) -> None:
        try:
            await self.bucket.delete(file_id)
        except NoFile:  # already gone: deleting is idempotent
            pass

    async def totals(self) -> MediaTotals:
        result = await (await self.files.aggregate([
            {"$group": {"_id": None, "files": {"$sum": 1}, "bytes": {"$sum": "$length"}}},
        ])).to_list(1)
        return MediaTotals(result[0]["files"], result[0]["bytes"]) if result else MediaTotals(0, 0)

    async def orphans(self, uploaded_before: datetime) -> list[StoredFile]:
        """Files no message refers to, uploaded before ``uploaded_before`` (so an upload
        still in progress, whose messages are not written yet, is never one). Profile
        pictures are not: a replaced one is deleted when it is replaced."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"uploadDate": {"$lt": uploaded_before}, "metadata.profileOf": {"$exists": False}}},
            {"$lookup": {"from": "messages", "localField": "_id", "foreignField": "media", "as": "refs",
                         "pipeline": [{"$project": {"_id": 1}}, {"$limit": 1}]}},
            {"$match": {"refs": []}},
            {"$project": {"refs": 0}},
        ]
        return [_stored(doc) async for doc in await self.files.aggregate(pipeline)]


def _stored(doc: dict[str, Any]) -> StoredFile:
    meta = doc.get("metadata") or {}
    return StoredFile(doc["_id"], doc["length"], meta.get("contentType", "application/octet-stream"),
                      meta.get("sha256", ""), meta.get("chat"), doc["uploadDate"])
