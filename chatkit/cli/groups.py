"""The command tree's two habits that typer lacks: lazy commands and options anywhere.

``LazyGroup`` (the ``chatkit`` root) imports a command's module only when that command
runs or its help is shown, so ``chatkit tui`` and ``chatkit smoke`` never load PyMongo
or the server. It also makes ``--json`` cover usage errors: with ``--json`` anywhere on
the line, a mistyped option is reported as JSON too.

``AdminGroup`` (``chatkit admin`` and its sub-groups) gives every admin command the
global options ``--data-dir``, ``--mongo-url``, ``--db-name`` and ``--json``, so they
work before or after the subcommand, as mmctl's and synadm's flags do
(``chatkit admin --data-dir D users list`` and ``chatkit admin users list --data-dir D``).
A value given after the subcommand wins over one given before it.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Optional

import typer
import typer.main
from typer._click.core import Command, Context, Parameter
from typer._click.exceptions import ClickException, NoArgsIsHelpError
from typer._click.globals import get_current_context
from typer.core import TyperGroup
from typer.exceptions import Abort

from chatkit.cli.output import FAILED, set_json_mode
from chatkit.settings import default_data_dir

GLOBALS_KEY = "chatkit.globals"
GLOBAL_NAMES = ("data_dir", "mongo_url", "db_name", "as_json")


def env_help(text: str, variable: str) -> str:
    return f"{text} (env: {variable})"  # not [..]: typer's help reads brackets as markup


def global_options(
    data_dir: Optional[Path] = typer.Option(
        None, "--data-dir", metavar="DIR", show_default=str(default_data_dir()),
        help=env_help("Data dir of the server: its mongod's files and JWT secret", "CHATKIT_DATA_DIR")),
    mongo_url: Optional[str] = typer.Option(
        None, "--mongo-url", metavar="URL", show_default="the data dir's own mongod",
        help=env_help("MongoDB URL (mongodb:// or mongodb+srv://)", "CHATKIT_MONGO_URL")),
    db_name: Optional[str] = typer.Option(
        None, "--db-name", metavar="NAME", show_default="chatkit", help=env_help("Database name", "CHATKIT_DB_NAME")),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (errors too) instead of rows"),
) -> None:
    """The admin commands' global options; also the ``admin`` group's own callback."""
    remember_globals(dict(data_dir=data_dir, mongo_url=mongo_url, db_name=db_name, as_json=as_json))


def remember_globals(values: dict[str, Any]) -> None:
    """Keep the global options given at this level (later levels override earlier ones)."""
    ctx = get_current_context()
    store: dict[str, Any] = ctx.meta.setdefault(GLOBALS_KEY, {})
    for name, value in values.items():
        if value is not None and value is not False:
            store[name] = value
    set_json_mode(bool(store.get("as_json")))


def given_globals(ctx: Context) -> dict[str, Any]:
    found: dict[str, Any] = ctx.meta.get(GLOBALS_KEY, {})
    return found


_PARAMS: list[Parameter] = []


def _global_params() -> list[Parameter]:
    """The click parameters of ``global_options``, built once by typer itself."""
    if not _PARAMS:
        holder = typer.Typer(add_completion=False)
        holder.command()(global_options)
        _PARAMS.extend(typer.main.get_command(holder).params)
    return _PARAMS


def _with_globals(command: Command) -> None:
    """Give a leaf command the global options, handing their values to ``remember_globals``."""
    have = {p.name for p in command.params}
    command.params.extend(p for p in _global_params() if p.name not in have)
    inner = command.callback
    if inner is None:
        return

    def callback(**kwargs: Any) -> Any:
        remember_globals({name: kwargs.pop(name) for name in GLOBAL_NAMES if name in kwargs})
        return inner(**kwargs)

    command.callback = callback


class AdminGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for command in self.commands.values():
            if not isinstance(command, TyperGroup):
                _with_globals(command)


Loader = Callable[[], Command]


def _from_module(module: str, attr: str, name: str) -> Loader:
    def load() -> Command:
        found = getattr(importlib.import_module(module), attr)
        if not isinstance(found, typer.Typer):
            holder = typer.Typer(add_completion=False)
            holder.command(name)(found)
            found = holder
        command = typer.main.get_command(found)
        command.name = name
        return command

    return load


class LazyGroup(TyperGroup):
    """The root: commands from other modules are imported when first needed."""

    LAZY: ClassVar[dict[str, Loader]] = {
        "admin": _from_module("chatkit.cli.admin", "app", "admin"),
        "smoke": _from_module("chatkit.cli.smoke", "smoke", "smoke"),
        "bench": _from_module("chatkit.cli.bench", "bench", "bench"),
    }

    def list_commands(self, ctx: Context) -> list[str]:
        return [*self.commands, *(name for name in self.LAZY if name not in self.commands)]

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in self.LAZY:
            self.commands[cmd_name] = self.LAZY[cmd_name]()
        return self.commands.get(cmd_name)

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, windows_expand_args: bool = True,
             **extra: Any) -> Any:
        """As typer's, but a usage error is one ``error:`` line (JSON with ``--json``), exit 2."""
        argv = list(sys.argv[1:] if args is None else args)
        if not standalone_mode:
            return super().main(argv, prog_name, complete_var, standalone_mode, windows_expand_args, **extra)
        options = argv[: argv.index("--")] if "--" in argv else argv
        try:
            result = super().main(argv, prog_name, complete_var, False, windows_expand_args, **extra)
        except NoArgsIsHelpError as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except ClickException as exc:  # a mistyped command or option
            message = exc.format_message()
            if "--json" in options:
                typer.echo(json.dumps({"error": message, "exitCode": exc.exit_code}), err=True)
            else:
                where = getattr(getattr(exc, "ctx", None), "command_path", None)
                typer.echo(f"error: {message}" + (f" (see {where} -h)" if where else ""), err=True)
            sys.exit(exc.exit_code)
        except Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(FAILED)
        sys.exit(result if isinstance(result, int) else 0)
