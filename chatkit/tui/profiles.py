"""Remembered sessions: one token per server and account, so the next start goes straight in.

Kept as JSON in the user's config dir (``platformdirs``), written whole to a temporary
file created with mode 0600 and moved into place, so a token is never readable by
other users, not even for a moment, and a crash never leaves half a file. A file
that cannot be read is treated as empty: the worst case is logging in again.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import platformdirs

FILE_NAME = "tui-profiles.json"


@dataclass(frozen=True)
class Profile:
    """A logged-in account on one server: what the picker shows and the token to resume with."""

    server: str
    email: str
    name: str
    token: str

    def __repr__(self) -> str:  # never print a token
        return f"Profile({self.server!r}, {self.email!r})"

    @property
    def label(self) -> str:
        return f"{self.name} <{self.email}> on {self.server}"


def default_path() -> Path:
    return platformdirs.user_config_path("chatkit") / FILE_NAME


def normal_server(url: str) -> str:
    return url.strip().rstrip("/")


class ProfileStore:
    """The remembered profiles in one file (``path``; the user's config dir by default)."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()

    def all(self) -> list[Profile]:
        try:
            data = json.loads(self.path.read_text())
            return [Profile(**{k: str(p[k]) for k in ("server", "email", "name", "token")})
                    for p in data.get("profiles", [])]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return []

    def matching(self, server: str | None, email: str | None) -> list[Profile]:
        """The profiles on ``server`` (any, if None) for ``email`` (any, if None)."""
        return [p for p in self.all()
                if (server is None or p.server == normal_server(server))
                and (email is None or p.email.casefold() == email.casefold())]

    def remember(self, profile: Profile) -> None:
        profile = Profile(normal_server(profile.server), profile.email, profile.name, profile.token)
        others = [p for p in self.all() if (p.server, p.email.casefold()) != (profile.server, profile.email.casefold())]
        self._write([profile, *others])

    def forget(self, server: str, email: str | None = None) -> list[Profile]:
        """Forget the profiles of ``server`` (only ``email``'s, if given); returns those forgotten."""
        gone = self.matching(server, email)
        if gone:
            self._write([p for p in self.all() if p not in gone])
        return gone

    def _write(self, profiles: list[Profile]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(self.path.name + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump({"profiles": [asdict(p) for p in profiles]}, out, indent=2)
        os.replace(temporary, self.path)
