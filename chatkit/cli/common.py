"""What every CLI command shares: failing with one clear line, and reaching the data."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from pymongo.errors import PyMongoError
from rich.console import Console

from chatkit import mongod
from chatkit.domain.errors import ChatkitError
from chatkit.domain.notifier import RelayNotifier
from chatkit.errors import OperatorError
from chatkit.services import Services, build_services
from chatkit.settings import Settings
from chatkit.storage.database import Storage, describe_mongo_error
from chatkit.wire import jsonable

T = TypeVar("T")

JSON = typer.Option(False, "--json", help="Print JSON instead of a table")
# Names are user data: never read them as rich markup or emoji codes.
console = Console(markup=False, emoji=False, highlight=False)


def admin_settings(ctx: typer.Context) -> Settings:
    """The settings the ``admin`` group callback loaded (flags, then environment)."""
    found = ctx.obj if ctx.obj is not None else ctx.find_root().obj
    assert isinstance(found, Settings)
    return found


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def reported_errors() -> Iterator[None]:
    """The one mapping from errors to a line on stderr and an exit status, for every command.

    Operator errors carry their own status (2 for unusable settings or a missing
    program, else 1); a refused action, a database failure or an OS error exits 1.
    """
    try:
        yield
    except OperatorError as exc:
        fail(str(exc), exc.exit_code)
    except ChatkitError as exc:
        fail(exc.message)
    except PyMongoError as exc:  # a bad URL, or the database went away mid-command
        fail(f"MongoDB: {describe_mongo_error(exc)}")
    except OSError as exc:  # e.g. a data dir that cannot be created
        fail(f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc))


def emit_json(value: Any) -> None:
    typer.echo(json.dumps(jsonable(value), indent=2))


def load_settings(data_dir: Path | None, mongo_url: str | None, db_name: str | None) -> Settings:
    with reported_errors():
        return Settings.load(dict(data_dir=data_dir, mongo_url=mongo_url, db_name=db_name))


def run_with_services(settings: Settings, action: Callable[[Services], Awaitable[T]]) -> T:
    """Run ``action`` against the same data a server would use, running or not.

    Without a Mongo URL this borrows the server's mongod when one is up, else starts the
    data dir's mongod for the length of the command.
    """
    local: mongod.LocalMongo | None = None
    url = settings.mongo_url
    with reported_errors():
        try:
            if not url:
                local = mongod.acquire(settings.data_dir, "admin")
                url = local.url
            return asyncio.run(_run(settings, url, action))
        finally:
            if local is not None:
                local.stop()


async def _run(settings: Settings, url: str, action: Callable[[Services], Awaitable[T]]) -> T:
    storage = await Storage.connect(url, settings.db_name)
    try:
        await storage.ensure_indexes()
        return await action(build_services(settings, storage, RelayNotifier(storage)))
    finally:
        await storage.close()


def read_password(given: str | None, prompt: str = "Password") -> str:
    if given is not None:
        return given
    if not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\n")
        if not line:
            fail("no password given: pass --password or type it on standard input")
        return line
    password: str = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    return password
