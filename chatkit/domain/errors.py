"""Errors the domain raises; each carries the HTTP status and the sentence a client sees.

Transports map them 1:1: REST replies ``{success:false, message}`` with ``status``;
Socket.IO answers with an ``error`` event or a failed ack carrying ``message``.
"""

from __future__ import annotations


class ChatkitError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ChatkitError):
    status = 400


class Unauthorized(ChatkitError):
    status = 401


class Forbidden(ChatkitError):
    status = 403


class NotFound(ChatkitError):
    status = 404


class Conflict(ChatkitError):
    status = 409


class PayloadTooLarge(ChatkitError):
    status = 413


class UnsupportedMediaType(ChatkitError):
    status = 415


class Unavailable(ChatkitError):
    """A feature this deployment is not configured for (e.g. email without SMTP)."""

    status = 503


class TooManyRequests(ChatkitError):
    """``retry_after``: whole seconds until a retry can succeed (REST sends ``Retry-After``)."""

    status = 429

    def __init__(self, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
