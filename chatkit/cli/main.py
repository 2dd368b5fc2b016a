"""The ``chatkit`` command: ``serve``, ``admin``, ``smoke`` and ``bench`` (and, later, ``tui``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from chatkit.cli import admin, bench, smoke
from chatkit.cli.common import reported_errors
from chatkit.settings import Settings

app = typer.Typer(
    help="chatkit: real-time chat server, admin CLI and terminal client.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(admin.app, name="admin")
app.command("bench")(bench.bench)
app.command("smoke")(smoke.smoke)


def setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # PyMongo's debug logs echo whole commands (password hashes, token hashes), and
    # aiohttp's access log would be the place a token-bearing URL turns up: keep both
    # at INFO or above whatever the chosen level.
    for noisy in ("pymongo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Interface to listen on [env CHATKIT_HOST; 127.0.0.1]"),
    port: Optional[int] = typer.Option(None, help="Port to listen on [env CHATKIT_PORT; 8080]"),
    data_dir: Optional[Path] = typer.Option(
        None, help="Where the local mongod and the JWT secret live [env CHATKIT_DATA_DIR]"),
    mongo_url: Optional[str] = typer.Option(
        None, help="MongoDB URL; without one a local mongod is started [env CHATKIT_MONGO_URL]"),
    db_name: Optional[str] = typer.Option(None, help="Database name [env CHATKIT_DB_NAME; chatkit]"),
    log_level: Optional[str] = typer.Option(None, help="debug, info, warning, error [env CHATKIT_LOG_LEVEL; info]"),
) -> None:
    """Run the REST + Socket.IO server until Ctrl-C or SIGTERM."""
    from chatkit.server.runner import Interrupted
    from chatkit.server.runner import serve as run_server

    with reported_errors():
        settings = Settings.load(dict(host=host, port=port, data_dir=data_dir, mongo_url=mongo_url,
                                      db_name=db_name, log_level=log_level))
        settings.resolved_jwt_secret()  # a bad secret file is reported before mongod starts
        setup_logging(settings.log_level)
        try:
            run_server(settings, ready=lambda url: typer.echo(f"chatkit serving on {url}"))
        except Interrupted:
            return  # asked to stop while starting: everything started has been stopped


def main() -> None:
    app()
