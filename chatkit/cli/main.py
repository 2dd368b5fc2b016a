"""The ``chatkit`` command: ``serve``, ``admin``, ``smoke``, ``bench`` and ``tui``."""

from __future__ import annotations

import errno
import logging
import os
import socket
import sys
from pathlib import Path
from typing import Optional

import typer

from chatkit.cli.groups import LazyGroup, env_help
from chatkit.settings import default_data_dir

# Only typer and the settings at import: ``admin``, ``smoke`` and ``bench`` are imported
# when they run (``LazyGroup``), and ``serve``/``tui`` import their machinery inside, so
# ``chatkit tui`` and ``chatkit smoke`` never load PyMongo or the server.
app = typer.Typer(
    cls=LazyGroup,
    help="chatkit: real-time chat server, admin CLI and terminal client.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("chatkit")
    except PackageNotFoundError:
        return "unknown"


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"chatkit {_version()}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", "-V", is_eager=True, callback=_show_version,
                                 help="Print the version and exit"),
) -> None:
    """chatkit: real-time chat server, admin CLI and terminal client."""


def _port_in_use(host: str, port: int) -> bool:
    """Whether ``host:port`` is taken, checked the way the server will bind it."""
    if port == 0:
        return False
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except OSError:
        return False  # an unknown host: the server's own bind reports it
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    return True
    return False


def _same_terminal() -> bool:
    """stdout and stderr are one terminal: a line logged on stderr is already seen there."""
    try:
        return sys.stdout.isatty() and os.path.samestat(os.fstat(1), os.fstat(2))
    except (OSError, ValueError):
        return False


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, metavar="HOST", show_default="127.0.0.1",
                                       help=env_help("Interface to listen on", "CHATKIT_HOST")),
    port: Optional[int] = typer.Option(None, metavar="PORT", show_default="8080",
                                       help=env_help("Port to listen on (0: any free port)", "CHATKIT_PORT")),
    data_dir: Optional[Path] = typer.Option(
        None, metavar="DIR", show_default=str(default_data_dir()),
        help=env_help("Where the local mongod's files and the JWT secret live", "CHATKIT_DATA_DIR")),
    mongo_url: Optional[str] = typer.Option(
        None, metavar="URL", show_default="a local mongod in the data dir",
        help=env_help("MongoDB URL (mongodb:// or mongodb+srv://)", "CHATKIT_MONGO_URL")),
    db_name: Optional[str] = typer.Option(None, metavar="NAME", show_default="chatkit",
                                          help=env_help("Database name", "CHATKIT_DB_NAME")),
    log_level: Optional[str] = typer.Option(None, metavar="LEVEL", show_default="info",
                                            help=env_help("debug, info, warning or error", "CHATKIT_LOG_LEVEL")),
    log_format: Optional[str] = typer.Option(
        None, metavar="FORMAT", show_default="text",
        help=env_help("text, or json (one object per line, for log shippers)", "CHATKIT_LOG_FORMAT")),
    redis_url: Optional[str] = typer.Option(
        None, metavar="URL", show_default="none (with --workers: a local redis-server in the data dir)",
        help=env_help("Redis shared by several chatkit processes (redis:// or rediss://)", "CHATKIT_REDIS_URL")),
    workers: Optional[int] = typer.Option(
        None, metavar="N", show_default="1",
        help=env_help("Server processes on the one port; above 1 they share a Redis", "CHATKIT_WORKERS")),
    worker: bool = typer.Option(False, "--worker", hidden=True,
                                help="Run as one of the processes of --workers (set by the supervisor)"),
) -> None:
    """Run the REST + Socket.IO server until Ctrl-C or SIGTERM."""
    from chatkit.cli.common import reported_errors
    from chatkit.cli.output import fail
    from chatkit.logs import setup_logging
    from chatkit.server.runner import Interrupted, WorkerFailed
    from chatkit.server.runner import serve as run_server
    from chatkit.settings import Settings

    with reported_errors():
        settings = Settings.load(dict(host=host, port=port, data_dir=data_dir, mongo_url=mongo_url,
                                      db_name=db_name, log_level=log_level, log_format=log_format,
                                      redis_url=redis_url, workers=workers))
        settings.resolved_jwt_secret()  # a bad secret file is reported before mongod starts
        supervised = settings.workers > 1 and not worker
        if supervised and settings.redis_url is None:
            from chatkit.redis_server import require_redis_server

            require_redis_server()  # said at once, before mongod starts
        # a worker shares the port its supervisor holds (SO_REUSEPORT): in use by design
        if not worker and _port_in_use(settings.host, settings.port):  # said at once, before mongod starts
            fail(f"port {settings.port} on {settings.host} is already in use: stop what listens there, "
                 "or choose another port with --port or CHATKIT_PORT")
        setup_logging(settings.log_level, settings.log_format)
        created = not settings.mongo_url and not (settings.data_dir / "db").is_dir()
        # The runner logs the startup line; print it on stdout too (scripts read it there)
        # unless the log already put it on this very terminal.
        logged = logging.getLogger("chatkit.server.runner").isEnabledFor(logging.INFO) and _same_terminal()

        def ready(url: str) -> None:
            if created:
                logging.getLogger("chatkit.cli").info("new data dir: created a chatkit database in %s",
                                                      settings.data_dir / "db")
            if not logged:
                typer.echo(f"chatkit serving on {url}" + (f" with {settings.workers} workers" if supervised else ""))

        try:
            run_server(settings, ready=ready, worker=worker)
        except WorkerFailed as exc:
            if not exc.reported:
                raise
            raise typer.Exit(exc.exit_code) from None  # the worker printed its own error line
        except Interrupted:
            return  # asked to stop while starting: everything started has been stopped


@app.command()
def tui(
    server: Optional[str] = typer.Option(
        None, help="Base URL of the chatkit server (default: the remembered one, else http://127.0.0.1:8080)"),
    email: Optional[str] = typer.Option(None, help="Account to use (picks among remembered ones)"),
    logout: bool = typer.Option(False, "--logout", help="End and forget the remembered session(s), then exit"),
    bell: bool = typer.Option(True, "--bell/--no-bell", help="Ring the terminal bell for messages in other chats"),
) -> None:
    """The terminal chat client: log in, chat, see typing, receipts and presence live."""
    import asyncio

    if server is not None and not server.startswith(("http://", "https://")):
        typer.echo(f"--server must be an http:// or https:// URL, got {server!r}", err=True)
        raise typer.Exit(2)
    if logout:
        from chatkit.tui.profiles import ProfileStore
        from chatkit.tui.session import forget

        gone = asyncio.run(forget(server, email, ProfileStore()))
        for profile in gone:
            typer.echo(f"Logged out and forgot {profile.email} on {profile.server}")
        if not gone:
            typer.echo("No remembered session to forget")
        return
    from chatkit.tui.app import run  # Textual loads only for this command

    run(server, email, bell=bell)


def main() -> None:
    app()
