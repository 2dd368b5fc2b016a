"""How every command talks back: rows for people, rows for pipes, JSON for scripts, errors.

One rule per channel, so no command decides it on its own:

- ``--json``: the result as one JSON document on stdout; a failure as one JSON line
  on stderr (``{"error": ..., "exitCode": ...}``).
- stdout a terminal: a table whose id and email columns are never cut or wrapped
  (other columns fold), values written for people (``yes``/``no``, blank for none).
- stdout a pipe or file: the same rows as tab-separated lines with a header line, one
  row per line, nothing folded, so ``grep``/``cut``/``awk`` work on them.

Exit statuses are named here and documented in the README's Admin reference. This
module imports neither pymongo nor the server, so light commands stay light.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NoReturn

import typer
from rich import box
from rich.console import Console
from rich.table import Column, Table
from typer._click.globals import get_current_context  # typer vendors click; no public alias

from chatkit.wire import jsonable

OK = 0
FAILED = 1  # refused by a rule, or anything else that went wrong
USAGE = 2  # bad options or settings
NOT_FOUND = 3  # the user, chat or data named does not exist
UNREACHABLE = 4  # the database (or its mongod) cannot be reached or started
CONFLICT = 5  # it already exists / is already so and cannot be done again (e.g. an email taken)
INTERRUPTED = 130  # Ctrl-C

JSON_KEY = "chatkit.json"
# Names are user data: never read them as rich markup or emoji codes.
console = Console(markup=False, emoji=False, highlight=False)


def json_mode() -> bool:
    """Whether this invocation asked for ``--json`` (anywhere on its command line)."""
    ctx = get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(JSON_KEY))


def set_json_mode(on: bool) -> None:
    ctx = get_current_context(silent=True)
    if ctx is not None and on:
        ctx.meta[JSON_KEY] = True


def fail(message: str, code: int = FAILED) -> NoReturn:
    """End the command with one line on stderr (JSON with ``--json``) and ``code``."""
    if json_mode():
        typer.echo(json.dumps({"error": message, "exitCode": code}), err=True)
    else:
        typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def note(message: str) -> None:
    """A remark for the person running the command (stderr, so stdout stays data)."""
    if not json_mode():
        typer.echo(message, err=True)


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), indent=2))


def say(sentence: str) -> None:
    """One line of human output on stdout (never used with ``--json``)."""
    typer.echo(sentence)


def human(value: Any) -> str:
    """A value as a person reads it: yes/no, blank for none, dates without microseconds."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return value[:19].replace("T", " ")  # an ISO timestamp from a view
    if isinstance(value, (list, tuple)):
        return ", ".join(human(v) for v in value)
    return str(value)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def rows(headers: Sequence[str], data: Sequence[Sequence[Any]], *, keep: Sequence[str] = ()) -> None:
    """Print rows: a table on a terminal, tab-separated lines otherwise.

    ``keep`` names the columns that are never cut or wrapped (ids, emails): they are
    copied into the next command. The rest fold on a narrow terminal.
    """
    cells = [[human(v) for v in row] for row in data]
    if not is_terminal():
        for line in [list(headers), *cells]:
            typer.echo("\t".join(c.replace("\t", " ").replace("\n", " ") for c in line))
        return
    columns = [Column(h, no_wrap=True) if h in keep else Column(h, overflow="fold") for h in headers]
    table = Table(*columns, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for row in cells:
        table.add_row(*row)
    # Kept columns whole even past the terminal's width (the terminal then wraps the
    # line, but a copied id is intact); the others get at least their header's width.
    needed = sum((max([len(h), *(len(r[i]) for r in cells)]) if h in keep else len(h)) + 2
                 for i, h in enumerate(headers))
    console.print(table, width=needed if needed > console.width else None)


def pairs(items: Sequence[tuple[str, Any]]) -> None:
    """One record as ``key value`` lines (tab-separated when piped)."""
    if not is_terminal():
        for key, value in items:
            typer.echo(f"{key}\t{human(value)}")
        return
    table = Table(show_header=False, box=box.SIMPLE, show_edge=False, pad_edge=False)
    table.add_column(no_wrap=True)
    table.add_column(no_wrap=True)
    for key, value in items:
        table.add_row(key, human(value))
    console.print(table)


def shown_of(shown: int, total: int, what: str) -> None:
    """"N of M shown" when a listing was cut, on stderr so pipes carry only rows."""
    if total > shown:
        note(f"{shown} of {total} {what} shown (--all for every one)")
