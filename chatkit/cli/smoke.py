"""``chatkit smoke``: check a running server end to end, as an app would, after a deploy.

It speaks only the wire (through ``chatkit.smoke`` and ``chatkit.client``), so it
imports no server, domain or storage code and needs no database access: point it at
any chatkit server it can reach.
"""

from __future__ import annotations

import asyncio
import json
from typing import NoReturn, Optional

import typer
from rich.console import Console

from chatkit.smoke import Credentials, SmokeOptions, StepResult, run_smoke, throwaway_accounts
from chatkit.smoke.report import print_header, print_step, print_summary

USAGE_ERROR = 2
# Server answers are user data: never read them as rich markup or emoji codes.
console = Console(markup=False, emoji=False, highlight=False)


def _usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(USAGE_ERROR)


def _accounts(email: str | None, password: str | None, email2: str | None,
              password2: str | None) -> tuple[Credentials, Credentials] | None:
    """The two accounts to log in as, or None for throwaway users."""
    if email is None and email2 is None:
        if password is not None or password2 is not None:
            _usage("--password and --password2 go with --email and --email2")
        return None
    if email is None or email2 is None:
        _usage("--email and --email2 go together: the smoke check needs two accounts")
    if email.strip().lower() == email2.strip().lower():
        _usage("--email and --email2 must be two different accounts")
    if password is None or password2 is None:
        _usage("give the passwords with --password and --password2 "
               "(or CHATKIT_SMOKE_PASSWORD and CHATKIT_SMOKE_PASSWORD2)")
    return Credentials(email.strip(), password), Credentials(email2.strip(), password2)


def smoke(
    server: str = typer.Option("http://127.0.0.1:8080", "--server", help="Base URL of the chatkit server to check"),
    email: Optional[str] = typer.Option(
        None, "--email", help="Log in as this existing user (A) instead of registering throwaway users"),
    password: Optional[str] = typer.Option(None, "--password", envvar="CHATKIT_SMOKE_PASSWORD",
                                           help="A's password [env CHATKIT_SMOKE_PASSWORD]"),
    email2: Optional[str] = typer.Option(None, "--email2", help="The second existing user (B)"),
    password2: Optional[str] = typer.Option(None, "--password2", envvar="CHATKIT_SMOKE_PASSWORD2",
                                            help="B's password [env CHATKIT_SMOKE_PASSWORD2]"),
    timeout: float = typer.Option(10.0, "--timeout", min=0.5, help="Seconds each step may take"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a check list"),
) -> None:
    """Walk the wire contract against a running server with two users; exit 0 only if every step passed.

    Without --email/--email2 it registers two throwaway users and leaves them unable to
    log in (random password, logged out).
    """
    if not server.startswith(("http://", "https://")):
        _usage(f"--server must be an http:// or https:// URL, got {server!r}")
    given = _accounts(email, password, email2, password2)
    accounts = given or throwaway_accounts()
    options = SmokeOptions(server.rstrip("/"), accounts, throwaway=given is None, timeout=timeout)

    def show(step: StepResult) -> None:
        if not as_json:
            print_step(console, step)

    if not as_json:
        print_header(console, options.server, (accounts[0].email, accounts[1].email), options.throwaway)
    report = asyncio.run(run_smoke(options, on_step=show))
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
        failed = report.failed
        if failed is not None:
            typer.echo(f"error: smoke step {failed.name!r} failed: {failed.detail}", err=True)
    else:
        print_summary(console, report)
    raise typer.Exit(0 if report.ok else 1)
