"""Wire conventions of the contract: ObjectId strings and JavaScript-style ISO times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bson import ObjectId


def now() -> datetime:
    """UTC now, cut to milliseconds: what MongoDB stores, so a value round-trips unchanged."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def iso(t: datetime | None) -> str | None:
    """``2024-05-01T12:00:00.123Z``, as a JavaScript ``Date`` serialises."""
    if t is None:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    elif t.utcoffset():
        t = t.astimezone(UTC)
    # isoformat is several times faster than strftime (this runs for every message)
    return t.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 time (``Z`` or offset; a bare date is midnight UTC); ValueError if not one."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    t = datetime.fromisoformat(text)
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    try:
        return t.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"{value!r} is outside the years 1 to 9999 in UTC") from None


def oid(value: object) -> ObjectId | None:
    """The ObjectId for a 24-hex string, or None for anything else."""
    if isinstance(value, ObjectId):
        return value
    if isinstance(value, str) and len(value) == 24 and ObjectId.is_valid(value):
        return ObjectId(value)
    return None


def jsonable(value: Any) -> Any:
    """Turn BSON values into JSON ones: ObjectId → hex string, datetime → ISO string."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
