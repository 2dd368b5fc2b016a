"""Where the admin CLI's audit lines go: ``<data-dir>/audit.log``, each with the operator.

Every change an admin command makes is recorded once by ``common.audit`` on the
``chatkit.audit`` logger; for the length of the command (``operator_trail``) that logger
appends to the data dir's ``audit.log``, in ``CHATKIT_LOG_FORMAT``, each line naming the
operator (the login name of the user who ran the command) and the time. The command's
own output stays clean: nothing of this goes to the terminal. Meanwhile the domain's own
audit lines are silenced (``audit.by_operator``), so that an operator's block is not also
recorded as the user's.
"""

from __future__ import annotations

import contextlib
import getpass
import logging
from collections.abc import Iterator

from chatkit.domain import audit
from chatkit.logs import JsonFormatter
from chatkit.settings import Settings

AUDIT_FILE = "audit.log"
TEXT_FORMAT = "%(asctime)s operator=%(operator)s %(message)s"


def operator_name() -> str:
    """The login name of whoever runs the command (``unknown`` if the system has none)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER (some containers)
        return "unknown"


class _Operator(logging.Filter):
    def __init__(self, name: str) -> None:
        super().__init__()
        self.operator = name

    def filter(self, record: logging.LogRecord) -> bool:
        record.operator = self.operator
        fields = getattr(record, "audit", None)
        record.audit = {"operator": self.operator, **(fields if isinstance(fields, dict) else {})}
        return True


@contextlib.contextmanager
def operator_trail(settings: Settings) -> Iterator[None]:
    """Record this command's audit lines in ``<data-dir>/audit.log`` as the operator's."""
    name = operator_name()
    logger = logging.getLogger("chatkit.audit")
    handler: logging.Handler | None = None
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(settings.data_dir / AUDIT_FILE, encoding="utf-8")
    except OSError as exc:  # the command still runs; the operator is told once
        logging.getLogger(__name__).warning("cannot write %s: %s", settings.data_dir / AUDIT_FILE,
                                            exc.strerror or exc)
    if handler is not None:
        handler.setFormatter(JsonFormatter() if settings.log_format == "json" else logging.Formatter(TEXT_FORMAT))
        handler.addFilter(_Operator(name))
        logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        with audit.by_operator(name):
            yield
    finally:
        logger.setLevel(level)
        if handler is not None:
            logger.removeHandler(handler)
            handler.close()
