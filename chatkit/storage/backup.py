"""Backup and restore of one chatkit database with nothing but a MongoDB connection.

The embedded mongod ships without ``mongodump``, so this writes the same kind of copy
itself: one ``<collection>.bson`` file per collection (the documents' raw BSON, one
after another, as mongodump writes them) and a ``manifest.json`` with each collection's
options, indexes and document count. GridFS media are ordinary collections
(``media.files``, ``media.chunks``) and travel with the rest; relays (news for running
servers, gone within an hour) do not.

Consistency while a server writes: on a replica set (the embedded mongod is one) every
collection is read in one session with ``snapshot=True``, so the copy is the database
at a single point in time. MongoDB keeps a snapshot for
``minSnapshotHistoryWindowInSeconds`` (300 s by default): a backup that takes longer
fails with a clear error rather than mixing two moments. A standalone server has no
snapshots: the copy is then taken collection by collection, and the manifest says so.

The manifest is written last: a directory without one is not a backup.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from chatkit.wire import iso, now

FORMAT = "chatkit-backup"
VERSION = 1
MANIFEST = "manifest.json"
SKIPPED = ("relays",)
BATCH_BYTES = 8 * 1024 * 1024  # documents inserted per round trip during a restore, by size
RAW = CodecOptions(document_class=RawBSONDocument)


class BackupError(Exception):
    """The backup directory or the target database cannot be used; the text says why."""


@dataclass(frozen=True)
class CollectionCopy:
    name: str
    documents: int


@dataclass(frozen=True)
class BackupSummary:
    directory: Path
    db_name: str
    created_at: str
    point_in_time: bool
    collections: list[CollectionCopy]

    def count(self, name: str) -> int:
        return next((c.documents for c in self.collections if c.name == name), 0)


async def _collections(db: AsyncDatabase[Any]) -> list[dict[str, Any]]:
    listed = await db.list_collections(filter={"type": "collection"})
    found: list[dict[str, Any]] = [dict(info) async for info in listed]
    return sorted((i for i in found if not i["name"].startswith("system.") and i["name"] not in SKIPPED),
                  key=lambda i: str(i["name"]))


async def _is_replica_set(db: AsyncDatabase[Any]) -> bool:
    hello = await db.client.admin.command("hello")
    return bool(hello.get("setName"))


async def backup(db: AsyncDatabase[Any], directory: Path) -> BackupSummary:
    """Copy ``db`` into ``directory`` (new or empty)."""
    _prepare(directory)
    snapshot = await _is_replica_set(db)
    infos = await _collections(db)  # (catalogue reads are not allowed in a snapshot session)
    indexes_of = {info["name"]: [ix async for ix in await db[info["name"]].list_indexes()] for info in infos}
    copies = []
    manifest_collections: dict[str, Any] = {}
    async with db.client.start_session(snapshot=snapshot, causal_consistency=False if snapshot else None) as session:
        for info in infos:
            name = info["name"]
            count = await _dump_collection(db, name, directory / f"{name}.bson", session)
            indexes = indexes_of[name]
            copies.append(CollectionCopy(name, count))
            manifest_collections[name] = {"documents": count, "options": info.get("options", {}),
                                          "indexes": indexes}
    created = iso(now()) or ""
    manifest = {"format": FORMAT, "version": VERSION, "dbName": db.name, "createdAt": created,
                "pointInTime": snapshot, "collections": manifest_collections}
    (directory / MANIFEST).write_text(json_util.dumps(manifest, indent=2))
    return BackupSummary(directory, db.name, created, snapshot, copies)


def _prepare(directory: Path) -> None:
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise BackupError(f"{directory} already exists and is not an empty directory")
    directory.mkdir(parents=True, exist_ok=True)


async def _dump_collection(db: AsyncDatabase[Any], name: str, path: Path, session: AsyncClientSession) -> int:
    count = 0
    with path.open("wb") as out:  # local disk writes: fine for a one-shot command
        async for doc in db.get_collection(name, codec_options=RAW).find({}, session=session).sort("_id", 1):
            out.write(doc.raw)
            count += 1
    return count


def read_manifest(directory: Path) -> dict[str, Any]:
    try:
        manifest = json_util.loads((directory / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(f"{directory} holds no chatkit backup (no {MANIFEST})") from None
    except (OSError, ValueError) as exc:
        raise BackupError(f"cannot read {directory / MANIFEST}: {exc}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{directory / MANIFEST} is not a chatkit backup manifest")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{directory} is a version {manifest.get('version')} backup; this chatkit reads {VERSION}")
    for name in manifest.get("collections", {}):
        if not (directory / f"{name}.bson").is_file():
            raise BackupError(f"{directory} is incomplete: {name}.bson is missing")
    return manifest


DATA = ("users", "sessions", "chats", "messages", "pushes", "media.files")
"""What makes a database "not empty" for a restore (bookkeeping such as ``meta`` does not)."""


async def existing_data(db: AsyncDatabase[Any]) -> dict[str, int]:
    """The data collections of ``db`` that hold documents, with their counts."""
    counts = {}
    for name in DATA:
        n = await db[name].estimated_document_count()
        if n:
            counts[name] = n
    return counts


async def restore(db: AsyncDatabase[Any], directory: Path) -> BackupSummary:
    """Load the backup in ``directory`` into ``db``: documents, then their indexes.

    Drops the collections ``db`` holds first: asking before replacing data
    (``existing_data``) is the caller's part.
    """
    manifest = read_manifest(directory)
    for info in await _collections(db):
        await db.drop_collection(info["name"])
    copies = []
    for name, spec in manifest["collections"].items():
        await db.create_collection(name, **(spec.get("options") or {}))
        count = await _load_collection(db, name, directory / f"{name}.bson")
        indexes = [_index_spec(ix) for ix in spec.get("indexes", []) if ix.get("name") != "_id_"]
        if indexes:
            await db.command("createIndexes", name, indexes=indexes)
        if count != spec.get("documents"):
            raise BackupError(f"{name}.bson holds {count} documents, the manifest says {spec.get('documents')}")
        copies.append(CollectionCopy(name, count))
    return BackupSummary(directory, db.name, str(manifest.get("createdAt", "")), bool(manifest.get("pointInTime")),
                         copies)


async def _load_collection(db: AsyncDatabase[Any], name: str, path: Path) -> int:
    collection = db.get_collection(name, codec_options=RAW)
    count = 0
    batch: list[RawBSONDocument] = []
    size = 0
    for raw in _documents(path):
        batch.append(RawBSONDocument(raw))
        size += len(raw)
        if size >= BATCH_BYTES:
            await collection.insert_many(batch, ordered=True)
            count += len(batch)
            batch, size = [], 0
    if batch:
        await collection.insert_many(batch, ordered=True)
        count += len(batch)
    return count


def _documents(path: Path) -> Iterator[bytes]:
    """The BSON documents of a ``.bson`` file, one by one (each starts with its length)."""
    with open(path, "rb") as fh:
        while header := fh.read(4):
            if len(header) < 4:
                raise BackupError(f"{path} is cut short")
            (length,) = struct.unpack("<i", header)
            rest = fh.read(length - 4)
            if length < 5 or len(rest) != length - 4:
                raise BackupError(f"{path} is cut short or damaged")
            yield header + rest


def _index_spec(index: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in index.items() if k not in ("v", "ns", "background")}


def summary_view(summary: BackupSummary) -> dict[str, Any]:
    return {"directory": str(summary.directory), "dbName": summary.db_name, "createdAt": summary.created_at,
            "pointInTime": summary.point_in_time,
            "collections": {c.name: c.documents for c in summary.collections}}

