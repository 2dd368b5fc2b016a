"""``chatkit admin media``: how much the stored images take, and files no message refers to."""

from __future__ import annotations

import typer

from chatkit.cli.common import DRY_RUN, YES, admin_settings, audit, confirm, run_with_services
from chatkit.cli.output import emit_json, json_mode, note, rows, say
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
    yes: bool = YES,
    dry_run: bool = DRY_RUN,
) -> None:
    """Count and size of stored images, and orphaned files (e.g. left by a deleted chat)."""
    settings = admin_settings(ctx)

    async def action(s: Services) -> tuple[MediaReport, list[StoredFile]]:
        pruned: list[StoredFile] = []
        if prune_orphans and not dry_run:
            orphans = (await s.media.report()).orphans
            if orphans:
                confirm(f"Delete {len(orphans)} orphaned file(s)?", yes)
                pruned = await s.media.prune_orphans()
                audit(s.settings, "media --prune-orphans", f"{len(pruned)} file(s)",
                      bytes=sum(p.length for p in pruned))
        return await s.media.report(), pruned

    report, pruned = run_with_services(settings, action)
    if json_mode():
        emit_json({"files": report.totals.files, "bytes": report.totals.bytes,
                   "orphans": [_file_view(o) for o in report.orphans],
                   "pruned": [_file_view(p) for p in pruned], **({"dryRun": True} if dry_run else {})})
        return
    say(f"{report.totals.files} image(s), {report.totals.bytes / 1024 / 1024:.1f} MiB")
    if pruned:
        say(f"removed {len(pruned)} orphaned file(s), {sum(p.length for p in pruned)} bytes")
    if report.orphans:
        rows(("orphaned file", "bytes", "type", "chat", "uploaded"),
             [(str(o.file_id), o.length, o.content_type, str(o.chat_id or ""), o.uploaded_at)
              for o in report.orphans], keep=("orphaned file", "chat"))
        if dry_run and prune_orphans:
            say(f"dry run: would remove these {len(report.orphans)} file(s); nothing changed")
        else:
            note("remove them with: chatkit admin media --prune-orphans")
    elif not pruned:
        say("no orphaned files")
