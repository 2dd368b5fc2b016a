"""One typed settings object for the server and the CLI.

Precedence is flags > environment (``CHATKIT_*``) > defaults. The CLI passes only the
flags the user actually gave, so an environment variable is never shadowed by a flag's
default value.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import json
import math
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import platformdirs

from chatkit.errors import UsageError
from chatkit.logs import LOG_FORMATS, LogFormat

ENV_PREFIX = "CHATKIT_"
MAX_WORKERS = 64  # processes of one chatkit serve --workers


class SettingsError(UsageError):
    """A configuration value that cannot be used; the message names the variable."""


def default_data_dir() -> Path:
    """Where a server keeps its mongod's files and JWT secret unless told otherwise."""
    return Path(platformdirs.user_data_dir("chatkit", appauthor=False))


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: Path = field(default_factory=default_data_dir)
    mongo_url: str | None = None
    db_name: str = "chatkit"
    log_level: str = "info"
    log_format: LogFormat = "text"  # json: one object per line, for log shippers
    jwt_secret: str | None = None
    jwt_lifetime_days: float = 30.0
    open_registration: bool = True
    bcrypt_rounds: int = 12
    shutdown_timeout: float = 10.0
    login_retry_seconds: float = 20.0  # after a burst of wrong passwords, one try per this many seconds
    db_timeout: float = 5.0  # seconds any one request may wait on MongoDB before a 503
    presence: Literal["contacts", "all"] = "contacts"
    public_url: str | None = None
    media_max_bytes: int = 10 * 1024 * 1024
    media_max_pixels: int = 50_000_000
    media_url_days: float = 7.0
    firebase_credentials: Path | None = None
    fcm_endpoint: str | None = None
    push_interval: float = 3.0
    # accounts and email (chatkit/domain/mail, chatkit/domain/codes.py)
    smtp_url: str | None = None  # smtp://user:password@host:port or smtps://...
    mail_from: str | None = None  # the From of account mails; default from the SMTP URL
    email_verification: Literal["required", "off"] | None = None  # None: required with SMTP, else off
    code_lifetime: float = 600.0  # seconds a one-time code works
    codes_per_hour: int = 5  # codes mailed to one address per hour at most
    # several processes (chatkit/server/supervisor.py, chatkit/redis_server.py)
    redis_url: str | None = None  # redis:// or rediss://: state shared between chatkit processes
    workers: int = 1  # chatkit serve processes on one port; above 1 they share a Redis
    presence_ttl: float = 15.0  # seconds a process's presence outlives it in Redis (heartbeat: a third)
    trusted_proxies: str = ""  # addresses/networks whose X-Forwarded-For names the client (comma-separated)
    # rate limits (chatkit/domain/limits.py): "N/s", "N/min" or "N/h", optionally "burst B"; or "off"
    rate_messages: str = "30/s burst 300"  # new-message per user, over all of their sockets
    rate_registrations: str = "10/min burst 30"  # POST register per client address
    rate_uploads: str = "30/min burst 20"  # image uploads (chat images, profile pictures) per user
    rate_typing: str = "20/s burst 40"  # typing and stop-typing per socket
    # other writes: per user on REST, per socket on Socket.IO (an app may ack every message it gets)
    rate_actions: str = "50/s burst 500"

    @classmethod
    def load(
        cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.name, f.type, raw)
        for name, value in (overrides or {}).items():
            if value is not None:
                values[name] = _coerce(name, _field_type(cls, name), value)
        settings = cls(**values)
        settings.validate()
        return settings

    def validate(self) -> None:
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be between 0 and 65535, got {self.port}")
        if not 4 <= self.bcrypt_rounds <= 16:
            raise SettingsError("CHATKIT_BCRYPT_ROUNDS must be between 4 and 16")
        if not math.isfinite(self.jwt_lifetime_days) or not 0 < self.jwt_lifetime_days <= 36500:
            raise SettingsError("CHATKIT_JWT_LIFETIME_DAYS must be a positive number of days (at most 36500)")
        if not math.isfinite(self.shutdown_timeout) or self.shutdown_timeout < 0:
            raise SettingsError("CHATKIT_SHUTDOWN_TIMEOUT must be zero or more seconds")
        if not math.isfinite(self.login_retry_seconds) or not 0 < self.login_retry_seconds <= 3600:
            raise SettingsError("CHATKIT_LOGIN_RETRY_SECONDS must be a positive number of seconds (at most 3600)")
        if not math.isfinite(self.db_timeout) or not 0 < self.db_timeout <= 300:
            raise SettingsError("CHATKIT_DB_TIMEOUT must be a positive number of seconds (at most 300)")
        if not self.db_name or any(c in self.db_name for c in '/\\. "$\0'):
            raise SettingsError(f"db name {self.db_name!r} is not a valid MongoDB database name")
        if self.jwt_secret is not None and len(self.jwt_secret) < 16:
            raise SettingsError("CHATKIT_JWT_SECRET must be at least 16 characters")
        if not 1024 <= self.media_max_bytes <= 1024**3:
            raise SettingsError("CHATKIT_MEDIA_MAX_BYTES must be between 1024 and 1073741824")
        if not 1 <= self.media_max_pixels <= 1_000_000_000:
            raise SettingsError("CHATKIT_MEDIA_MAX_PIXELS must be between 1 and 1000000000")
        if not math.isfinite(self.media_url_days) or not 0 < self.media_url_days <= 3650:
            raise SettingsError("CHATKIT_MEDIA_URL_DAYS must be a positive number of days (at most 3650)")
        if self.mongo_url is not None:
            _check_mongo_url(self.mongo_url)
        if self.public_url is not None and not self.public_url.startswith(("http://", "https://")):
            raise SettingsError("CHATKIT_PUBLIC_URL must start with http:// or https://")
        if self.presence not in ("contacts", "all"):
            raise SettingsError(f"CHATKIT_PRESENCE must be contacts or all, got {self.presence!r}")
        if self.firebase_credentials is not None:
            _check_service_account(self.firebase_credentials)
        if self.fcm_endpoint is not None and not self.fcm_endpoint.startswith(("http://", "https://")):
            raise SettingsError("CHATKIT_FCM_ENDPOINT must start with http:// or https://")
        if not math.isfinite(self.push_interval) or not 0 <= self.push_interval <= 3600:
            raise SettingsError("CHATKIT_PUSH_INTERVAL must be between 0 and 3600 seconds")
        _check_mail(self)
        for name in RATE_SETTINGS:
            parse_rate(getattr(self, name), ENV_PREFIX + name.upper())
        if self.redis_url is not None and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise SettingsError("CHATKIT_REDIS_URL must start with redis://, rediss:// or unix://")
        if not math.isfinite(self.presence_ttl) or not 0.3 <= self.presence_ttl <= 3600:
            raise SettingsError("CHATKIT_PRESENCE_TTL must be between 0.3 and 3600 seconds")
        self.trusted_networks  # noqa: B018  (raises SettingsError for a bad value)
        if not 1 <= self.workers <= MAX_WORKERS:
            raise SettingsError(f"CHATKIT_WORKERS must be between 1 and {MAX_WORKERS}, got {self.workers}")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise SettingsError(f"unknown log level {self.log_level!r}")
        if self.log_format not in LOG_FORMATS:
            raise SettingsError(f"CHATKIT_LOG_FORMAT must be text or json, got {self.log_format!r}")

    @property
    def trusted_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        """``trusted_proxies`` as networks (``10.0.0.1, 172.16.0.0/12``)."""
        networks = []
        for part in self.trusted_proxies.split(","):
            if part.strip():
                try:
                    networks.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError:
                    raise SettingsError(f"CHATKIT_TRUSTED_PROXIES: {part.strip()!r} is not an IP address "
                                        "or network") from None
        return tuple(networks)

    @property
    def redis_prefix(self) -> str:
        """The start of a deployment's Redis keys and channels, named by its database:
        deployments (and tests) may share a Redis without hearing each other."""
        return f"chatkit:{self.db_name}"

    @property
    def verification_required(self) -> bool:
        """Whether a new account must confirm its email before it gets a token."""
        if self.email_verification is None:
            return self.smtp_url is not None
        return self.email_verification == "required"

    def resolved_jwt_secret(self) -> str:
        """The configured secret, else one generated once and kept in the data dir.

        Generated rather than built in so that no two deployments share a secret, and
        kept (mode 0600) so that tokens survive a restart.
        """
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                _create_secret_file(path)
            if path.stat().st_mode & 0o077:
                with contextlib.suppress(OSError):  # e.g. a read-only mount: still usable
                    path.chmod(0o600)  # a readable secret lets anyone forge tokens
            secret = path.read_text().strip()
        except OSError as exc:
            raise SettingsError(f"cannot use JWT secret file {path}: {exc.strerror or exc}") from None
        if len(secret) < 16:
            raise SettingsError(f"{path} holds no usable secret; delete it to make a new one")
        return secret


def _create_secret_file(path: Path) -> None:
    """Write a fresh secret to ``path`` (mode 0600) unless someone else got there first.

    The secret is written to a private temporary file and then hard-linked into place,
    so a server and an admin command starting together never read a half-written file
    and never end up with two different secrets.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):  # another process won the race: use theirs
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


RATE_SETTINGS: Final = ("rate_messages", "rate_registrations", "rate_uploads", "rate_typing", "rate_actions")
_RATE = re.compile(r"(\d+(?:\.\d+)?)\s*/\s*([a-z]+)(?:\s+burst\s+(\d+))?")
_RATE_UNITS: Final = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
RATE_MAX: Final = 1_000_000  # per unit and per burst: past this a limit limits nothing


def parse_rate(text: str, variable: str) -> tuple[float, int] | None:
    """A rate limit as written in a setting: ``20/s burst 40`` is (20 per second, burst 40);
    without ``burst``, one unit's worth (``10/min`` holds 10); ``off`` is None.

    ``variable`` names the setting in the one-line error a value that cannot be used gets."""
    plain = " ".join(text.lower().split())
    if plain in ("off", "none"):
        return None
    match = _RATE.fullmatch(plain)
    unit = match[2] if match else ""
    if unit.endswith("s") and len(unit) > 2:
        unit = unit[:-1]  # secs, seconds, mins, minutes, hours
    count = float(match[1]) if match else 0.0
    burst = int(match[3]) if match and match[3] else math.ceil(count)
    if match is None or unit not in _RATE_UNITS or not 0 < count <= RATE_MAX or not 1 <= burst <= RATE_MAX:
        raise SettingsError(f"{variable} must be a rate like \"20/s burst 40\" (per s, min or h; "
                            f"burst optional) or off, got {text!r}")
    return count / _RATE_UNITS[unit], burst


def _check_mongo_url(url: str) -> None:
    """Refuse at once what cannot be a MongoDB URL, rather than after a connect timeout.

    The URL itself is not repeated: it may hold a password."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("mongodb", "mongodb+srv"):
        got = f"a {scheme}:// URL" if sep else "no scheme"
        raise SettingsError(f"invalid MongoDB URL: it must start with mongodb:// or mongodb+srv:// (got {got})")
    hosts = rest.rpartition("@")[2].split("/")[0].split("?")[0]
    if not hosts or any(c.isspace() for c in url):
        raise SettingsError("invalid MongoDB URL: it names no host, or holds spaces")


def _check_mail(settings: Settings) -> None:
    """SMTP URL, From address, verification mode and code limits, checked at start.

    The URL is not repeated in an error: it may hold a password."""
    url = settings.smtp_url
    if url is not None:
        scheme, sep, rest = url.partition("://")
        host = rest.rpartition("@")[2].split("/")[0].split("?")[0].rsplit(":", 1)
        if not sep or scheme not in ("smtp", "smtps"):
            raise SettingsError("CHATKIT_SMTP_URL must start with smtp:// or smtps://")
        if not host[0] or any(c.isspace() for c in url):
            raise SettingsError("CHATKIT_SMTP_URL names no host, or holds spaces")
        if len(host) == 2 and not (host[1].isdigit() and 0 < int(host[1]) < 65536):
            raise SettingsError("CHATKIT_SMTP_URL has a port that is not a number from 1 to 65535")
    if settings.mail_from is not None and ("@" not in settings.mail_from or "\n" in settings.mail_from
                                           or "\r" in settings.mail_from):
        raise SettingsError("CHATKIT_MAIL_FROM must be an email address (optionally \"Name <address>\")")
    if settings.email_verification not in (None, "required", "off"):
        raise SettingsError(f"CHATKIT_EMAIL_VERIFICATION must be required or off, got {settings.email_verification!r}")
    if settings.email_verification == "required" and url is None:
        raise SettingsError("CHATKIT_EMAIL_VERIFICATION=required needs CHATKIT_SMTP_URL to send the codes")
    if not math.isfinite(settings.code_lifetime) or not 1 <= settings.code_lifetime <= 86400:
        raise SettingsError("CHATKIT_CODE_LIFETIME must be between 1 and 86400 seconds")
    if not 1 <= settings.codes_per_hour <= 1000:
        raise SettingsError("CHATKIT_CODES_PER_HOUR must be between 1 and 1000")


def _check_service_account(path: Path) -> None:
    """Fail at start, in one line, on a key file Firebase could not use, rather than on the
    first push minutes later."""
    where = f"CHATKIT_FIREBASE_CREDENTIALS: {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SettingsError(f"{where}: cannot read it: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError):
        raise SettingsError(f"{where} is not a JSON file") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise SettingsError(f"{where} is not a service-account key (its \"type\" must be \"service_account\")")
    missing = [k for k in ("project_id", "private_key", "client_email") if not data.get(k)]
    if missing:
        raise SettingsError(f"{where} lacks {', '.join(missing)}")


def _field_type(cls: type, name: str) -> Any:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.type
    raise SettingsError(f"unknown setting {name!r}")


def _coerce(name: str, typ: Any, value: Any) -> Any:
    typ = str(typ)
    if not isinstance(value, str):
        return Path(value) if "Path" in typ and not isinstance(value, Path) else value
    try:
        if typ.startswith("int"):
            return int(value)
        if typ.startswith("float"):
            return float(value)
        if typ.startswith("bool"):
            lowered = value.strip().lower()
            if lowered in {"1", "true", "yes", "on"}:
                return True
            if lowered in {"0", "false", "no", "off"}:
                return False
            raise ValueError(value)
        if "Path" in typ:
            return Path(value).expanduser()
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()}: cannot use {value!r}") from None
    return value
