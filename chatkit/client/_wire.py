"""Reading wire JSON into Python values, checked: the one place a reply's shape is trusted.

Every model and event is built through these readers, so a reply that breaks the
contract raises :class:`ProtocolError` naming the field, right where it arrived,
instead of a ``KeyError`` deep inside a consumer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chatkit.client._exceptions import ProtocolError

Wire = dict[str, Any]


def obj(value: Any, what: str) -> Wire:
    if not isinstance(value, dict):
        raise ProtocolError(f"{what} must be an object, got {type(value).__name__}")
    return value


def items(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise ProtocolError(f"{what} must be a list, got {type(value).__name__}")
    return value


def text(data: Wire, key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string, got {value!r:.80}")
    return value


def opt_text(data: Wire, key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ProtocolError(f"{key} must be a string or null, got {value!r:.80}")
    return value


def flag(data: Wire, key: str, default: bool | None = None) -> bool:
    value = data.get(key, default)
    if not isinstance(value, bool):
        raise ProtocolError(f"{key} must be true or false, got {value!r:.80}")
    return value


def opt_flag(data: Wire, key: str) -> bool | None:
    return flag(data, key) if data.get(key) is not None else None


def number(data: Wire, key: str, default: int | None = None) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ProtocolError(f"{key} must be an integer, got {value!r:.80}")
    return value


def time(data: Wire, key: str) -> datetime:
    value = opt_time(data, key)
    if value is None:
        raise ProtocolError(f"{key} must be a time, got null")
    return value


def opt_time(data: Wire, key: str) -> datetime | None:
    """An ISO-8601 time as an aware UTC ``datetime`` (the wire writes ``...T07:54:07.203Z``)."""
    raw = data.get(key)
    if raw is None:
        return None
    if not isinstance(raw, str):
        raise ProtocolError(f"{key} must be an ISO-8601 time, got {raw!r:.80}")
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        raise ProtocolError(f"{key} must be an ISO-8601 time, got {raw!r:.80}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def ref_id(data: Wire, key: str) -> str:
    """An id sent either as a string or as ``{_id}`` (``sender`` in ``new-chat``)."""
    value = data.get(key)
    if isinstance(value, dict):
        return text(value, "_id")
    if not isinstance(value, str):
        raise ProtocolError(f"{key} must be an id, got {value!r:.80}")
    return value


def opt_ref_id(data: Wire, key: str) -> str | None:
    return None if data.get(key) is None else ref_id(data, key)


def iso(moment: datetime) -> str:
    """A time as the server reads it in queries (UTC, milliseconds, ``Z``)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
