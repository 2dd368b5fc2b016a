"""The users' half of the audit trail: one line per account change a user makes.

A registration, a login (and a failed one), a log-out, a password change, a block or
unblock and a clear are recorded by the domain method that makes them, on the
``chatkit.audit`` logger (the server's log):

    user:6b0a888ab88aa8a94ba53c20 login user=6b0a888ab88aa8a94ba53c20 address=127.0.0.1

Operators' actions are the admin CLI's to record (``chatkit.cli.common.audit``, one line
per change, in ``<data-dir>/audit.log``). While the CLI runs an action (``by_operator``)
the domain records nothing, so a block made with ``chatkit admin block`` is one line,
the operator's, never also a line that says the user did it.

The time is the log line's. Lines carry ids, emails, addresses and counts; never a
password, a token or a token's hash, and never the text typed as an email at a failed
login (people type passwords there). The same facts travel as structured fields
(``extra={"audit": ...}``) for JSON logs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from contextvars import ContextVar

from bson import ObjectId

log = logging.getLogger("chatkit.audit")

_OPERATOR: ContextVar[str | None] = ContextVar("chatkit_audit_operator", default=None)

Detail = str | int | bool | ObjectId | None


@contextlib.contextmanager
def by_operator(name: str) -> Iterator[None]:
    """What runs inside is an operator's action (named ``name``), recorded by the CLI."""
    token = _OPERATOR.set(name)
    try:
        yield
    finally:
        _OPERATOR.reset(token)


def record(action: str, user: ObjectId | None, **details: Detail) -> None:
    """One audit line: ``user`` did ``action`` (``None``: someone who is no account)."""
    if _OPERATOR.get() is not None or not log.isEnabledFor(logging.INFO):
        return
    actor = f"user:{user}" if user is not None else "anonymous"
    fields: dict[str, Detail] = {"actor": actor, "action": action, "user": None if user is None else str(user)}
    fields.update({k: (str(v) if isinstance(v, ObjectId) else v) for k, v in details.items()})
    shown = " ".join(f"{k}={_text(v)}" for k, v in fields.items() if k not in ("actor", "action") and v is not None)
    log.info("%s %s %s", actor, action, shown, extra={"audit": fields})


def _text(value: object) -> str:
    """A value for the text line as one word: nothing a client chose can break the line."""
    text = str(value).lower() if isinstance(value, bool) else str(value)
    return "".join(c if c.isprintable() and not c.isspace() else f"\\x{ord(c):02x}" for c in text)
