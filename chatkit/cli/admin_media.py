"""``chatkit admin media``: how much the stored images take, and files no message refers to."""

from __future__ import annotations

import typer
from rich.table import Table

from chatkit.cli.common import JSON, admin_settings, console, emit_json, run_with_services
from chatkit.domain.media import MediaReport
from chatkit.services import Services
from chatkit.storage.media import StoredFile


def register(app: typer.Typer) -> None:
    app.command("media")(media)


def _file_view(stored: StoredFile) -> dict[str, object]:
    return {"_id": str(stored.file_id), "bytes": stored.length, "contentType": stored.content_type,
            "chat": str(stored.chat_id) if stored.chat_id else None, "uploadedAt": stored.uploaded_at}


def media(
    ctx: typer.Context,
    prune_orphans: bool = typer.Option(False, "--prune-orphans",
                                       help="Delete the files no message refers to (older than an hour)"),
    as_json: bool = JSON,
) -> None:
    """Count and size of stored images, and orphaned files (e.g. left by a deleted chat)."""

    async def action(s: Services) -> tuple[MediaReport, list[StoredFile]]:
        pruned = await s.media.prune_orphans() if prune_orphans else []
        return await s.media.report(), pruned

    report, pruned = run_with_services(admin_settings(ctx), action)
    if as_json:
        emit_json({"files": report.totals.files, "bytes": report.totals.bytes,
                   "orphans": [_file_view(o) for o in report.orphans],
                   "pruned": [_file_view(p) for p in pruned]})
        return
    console.print(f"{report.totals.files} image(s), {report.totals.bytes / 1024 / 1024:.1f} MiB")
    if pruned:
        console.print(f"removed {len(pruned)} orphaned file(s), {sum(p.length for p in pruned)} bytes")
    if report.orphans:
        table = Table("orphaned file", "bytes", "type", "uploaded")
        for o in report.orphans:
            table.add_row(str(o.file_id), str(o.length), o.content_type, o.uploaded_at.isoformat()[:19])
        console.print(table)
        console.print("remove them with: chatkit admin media --prune-orphans")
    elif not pruned:
        console.print("no orphaned files")
