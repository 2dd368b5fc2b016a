"""Where chatkit's log lines go and how they look: text for people, JSON lines for shippers.

``chatkit serve`` logs to standard error (systemd's journal, a container's log) in the
format ``--log-format`` / ``CHATKIT_LOG_FORMAT`` names. ``text`` is one readable line per
record; ``json`` is one JSON object per line (``time``, ``level``, ``logger``,
``message``, and the structured fields of access and audit lines), for Loki, Elastic,
Datadog and the like. The admin CLI keeps its audit lines in ``<data-dir>/audit.log``
(``chatkit.cli.audit_log``).
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Final, Literal

LogFormat = Literal["text", "json"]
LOG_FORMATS: Final = ("text", "json")
TEXT_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STRUCTURED: Final = ("access", "audit")  # ``extra`` fields that JSON lines carry as objects


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line; never raises on an odd value."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in STRUCTURED:
            value = getattr(record, name, None)
            if isinstance(value, dict):
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def formatter(fmt: LogFormat) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def setup_logging(level: str, fmt: LogFormat = "text") -> None:
    """Log to standard error at ``level`` in ``fmt``."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler])
    # PyMongo's debug logs echo whole commands (password hashes, token hashes), and
    # aiohttp's access log prints query strings (a media URL's signature): keep both at
    # INFO or above whatever the chosen level. chatkit.access is the access log.
    for noisy in ("pymongo", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger().level))
