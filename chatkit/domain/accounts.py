"""Accounts and sessions: registration, login, token checks, and operator actions.

Sessions live server-side so that log-out, a password change, deactivation and a ban
take effect on the very next request, and one user may stay logged in on many devices.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from bson import ObjectId

from chatkit.domain import audit, passwords
from chatkit.domain.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from chatkit.domain.inputs import check_search
from chatkit.domain.throttle import LoginThrottle
from chatkit.domain.tokens import Claims, IssuedToken, TokenCodec, token_hash
from chatkit.protocol import Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import Query, SessionDoc, UserDoc
from chatkit.storage.users import DuplicateEmail
from chatkit.wire import now, oid

NAME_MAX = 100
EMAIL_MAX = 254
PUSH_TOKEN_MAX = 4096
LOGIN_PASSWORD_MAX = 1024  # bcrypt reads 72 bytes; this only bounds the work
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BIDI_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Letters and symbols that draw nothing: Hangul fillers and the blank Braille pattern.
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


class Unverified(Exception):
    """The password was right but the account has not confirmed its email yet."""

    def __init__(self, user: UserDoc) -> None:
        super().__init__("account email not verified")
        self.user = user


def standing_problem(user: UserDoc | None) -> str | None:
    """Why this account may not be used right now, or None if it may."""
    if user is None:
        return Sentence.ACCOUNT_NOT_FOUND
    if user.get("isBlocked"):
        return Sentence.ACCOUNT_BLOCKED
    if user.get("isActive") is False:
        return Sentence.ACCOUNT_DEACTIVATED
    return None


@dataclass(frozen=True)
class AuthContext:
    """Who is calling: the user and the session of the token used (a request or a socket)."""

    user: UserDoc
    session: SessionDoc

    @property
    def user_id(self) -> ObjectId:
        return self.user["_id"]

    @property
    def session_id(self) -> ObjectId:
        return self.session["_id"]


def normalise_email(email: str) -> str:
    email = email.strip().lower()
    if len(email) > EMAIL_MAX:
        raise BadRequest(f"email must be at most {EMAIL_MAX} characters")
    if not _EMAIL.match(email) or _CONTROL.search(email):
        raise BadRequest("email is not a valid email address")
    return email


def lookup_email(email: str) -> str:
    """An address as typed to find an account (login, a code): only its length is
    checked, since a malformed address simply matches nobody."""
    if len(email) > EMAIL_MAX:
        raise BadRequest(f"email must be at most {EMAIL_MAX} characters")
    return email.strip().lower()


def clean_name(value: str, field: str) -> str:
    """A name as others will see it: NFC, without bidi controls, with something visible.

    Bidi controls (U+202E and friends) would let a name reverse the text shown after
    it, and a name of only invisible characters (zero-width, format, combining marks,
    fillers) would show as a blank sender; NFC makes the same name compare equal
    however the client composed it.
    """
    value = _BIDI_CONTROLS.sub("", unicodedata.normalize("NFC", value)).strip()
    if not value:
        raise BadRequest(f"{field} must not be empty")
    if len(value) > NAME_MAX:
        raise BadRequest(f"{field} must be at most {NAME_MAX} characters")
    if _CONTROL.search(value):
        raise BadRequest(f"{field} must not contain control characters")
    if not any(_visible(c) for c in value):
        raise BadRequest(f"{field} must contain a visible character")
    return value


def _visible(char: str) -> bool:
    """True for a character that draws something on its own."""
    return char not in _INVISIBLE_LETTERS and unicodedata.category(char)[0] not in "CZM"


def _check_push_token(token: str | None) -> str | None:
    if token is None or token == "":
        return None
    if len(token) > PUSH_TOKEN_MAX:
        raise BadRequest(f"notificationToken must be at most {PUSH_TOKEN_MAX} characters")
    return token


class Accounts:
    def __init__(
        self,
        storage: Storage,
        codec: TokenCodec,
        *,
        bcrypt_rounds: int = 12,
        open_registration: bool = True,
        throttle: LoginThrottle | None = None,
        verify_email: bool = False,
    ) -> None:
        self.storage = storage
        self.codec = codec
        self.bcrypt_rounds = bcrypt_rounds
        self.open_registration = open_registration
        self.throttle = throttle if throttle is not None else LoginThrottle()
        self.verify_email = verify_email

    # --- self-service -------------------------------------------------------------

    async def register(
        self, first_name: str, last_name: str, email: str, password: str,
        notification_token: str | None = None,
    ) -> tuple[UserDoc, IssuedToken]:
        if not self.open_registration:
            raise Forbidden(Sentence.REGISTRATION_CLOSED)
        push_token = _check_push_token(notification_token)  # before anything is stored
        user = await self.create_user(first_name, last_name, email, password)
        issued = await self._open_session(user, push_token)
        audit.record("register", user["_id"], email=user["email"])
        return user, issued

    async def login(
        self, email: str, password: str, notification_token: str | None = None, *, client: str | None = None
    ) -> tuple[UserDoc, IssuedToken]:
        """Check the password and open a session; ``client`` (an address) feeds the throttle."""
        push_token = _check_push_token(notification_token)
        # Only lengths are checked here: a malformed address simply matches nobody, and
        # passwords set by the original backend are not held to today's rules.
        address = lookup_email(email)
        if len(password) > LOGIN_PASSWORD_MAX:
            raise BadRequest(f"password must be at most {LOGIN_PASSWORD_MAX} characters")
        await self.throttle.admit(address, client)  # before the password: a refused guess learns nothing
        try:
            user = await self.storage.users.by_email(address)
            ok = await passwords.verify_password(password, user.get("password") if user else None,
                                                 self.bcrypt_rounds)
        except BaseException:
            await self.throttle.abandoned(address, client)  # no verdict: not a failed guess
            raise
        if not ok or user is None:
            # the account if there is one: never the text typed as an email (a password, at times)
            audit.record("login-failed", user["_id"] if user else None, address=client)
            raise Unauthorized(Sentence.BAD_LOGIN)  # admit() already counted it
        await self.throttle.succeeded(address, client)
        self._check_standing(user)
        if self.verify_email and user.get("isVerified") is False:
            raise Unverified(user)
        issued = await self._open_session(user, push_token)
        audit.record("login", user["_id"], address=client)
        return user, issued

    async def authenticate(self, token: str | None) -> AuthContext:
        """Accept a token only if every condition of the contract holds, else say which failed."""
        if not token:
            raise Unauthorized(Sentence.AUTH_REQUIRED)
        if token.lower().startswith("bearer "):
            token = token[7:].strip()
        claims = self.codec.decode(token)
        user_id = oid(claims.user_id)
        if user_id is None:
            raise Unauthorized(Sentence.INVALID_TOKEN)
        user, session = await self.storage.users.with_session(user_id, token_hash(token))
        user = self._check_standing(user)
        if session is None:
            session = await self._adopt_legacy_token(user, token, claims)
        if session is None or session.get("userId") != user_id:
            raise Unauthorized(Sentence.SESSION_EXPIRED)
        if self._predates_password_change(user, session, claims.issued_at):
            raise Unauthorized(Sentence.PASSWORD_CHANGED)
        if session.get("revokedAt") is not None:
            raise Unauthorized(Sentence.SESSION_ENDED)
        return AuthContext(user, session)

    async def _adopt_legacy_token(self, user: UserDoc, token: str, claims: Claims) -> SessionDoc | None:
        """A token the original backend issued (kept on the user) becomes a session.

        So switching a deployment to chatkit (with the same JWT secret) logs nobody out.
        """
        if user.get("token") != token:
            return None
        before = await self.storage.users.claim_legacy_token(user["_id"], token)
        if before is None:  # claimed a moment ago by a concurrent request
            return await self.storage.sessions.by_token_hash(token_hash(token))
        push = before.get("notificationToken") if isinstance(before.get("notificationToken"), str) else None
        return await self.storage.sessions.create(
            user["_id"], token_hash(token), datetime.fromtimestamp(claims.expires_at, UTC), push,
            created_at=datetime.fromtimestamp(claims.issued_at, UTC),
        )

    @staticmethod
    def _predates_password_change(user: UserDoc, session: SessionDoc, issued_at: int) -> bool:
        """True if the token was issued before the password last changed.

        ``iat`` has whole seconds only, so a token issued in the same second as the
        change would pass that check; the session's ``createdAt`` (milliseconds) tells
        those apart, so the caller reads "Password changed" rather than a vaguer reason.
        """
        changed = user.get("passwordChangedAt")
        if changed is None:
            return False
        if int(changed.timestamp()) > issued_at:
            return True
        created = session.get("createdAt")
        return created is not None and created < changed

    async def logout(self, ctx: AuthContext) -> None:
        await self.storage.sessions.revoke(ctx.session["_id"])
        audit.record("logout", ctx.user_id, session=ctx.session["_id"])

    async def change_password(self, ctx: AuthContext, current: str | None, new: str) -> tuple[UserDoc, IssuedToken]:
        """Set a new password, end every session, and open a fresh one for this device.

        Without ``current``: only from a session opened by an emailed code, while its
        ``passwordResetUntil`` lasts (signing in by code is how a forgotten password is
        replaced)."""
        if current is None:
            until = ctx.session.get("passwordResetUntil")
            if until is None or until <= now():
                raise BadRequest("currentPassword is required")
            user = await self._set_password(ctx.user_id, new, field="newPassword")
            audit.record("change-password", ctx.user_id, method="code")
            return user, await self._open_session(user, ctx.session.get("notificationToken"))
        if len(current) > LOGIN_PASSWORD_MAX:
            raise BadRequest(f"currentPassword must be at most {LOGIN_PASSWORD_MAX} characters")
        if not await passwords.verify_password(current, ctx.user.get("password")):
            raise Unauthorized(Sentence.BAD_CURRENT_PASSWORD)
        if current == new:
            raise BadRequest("newPassword must differ from currentPassword")
        user = await self._set_password(ctx.user_id, new, field="newPassword")
        issued = await self._open_session(user, ctx.session.get("notificationToken"))
        audit.record("change-password", ctx.user_id)
        return user, issued

    async def sign_in(self, user: UserDoc, notification_token: str | None = None, *,
                      password_reset_until: datetime | None = None) -> IssuedToken:
        """Open a session for a user who proved who they are another way (an emailed code);
        ``password_reset_until``: it may set a new password without the old one until then."""
        push_token = _check_push_token(notification_token)
        self._check_standing(user)
        issued = await self._open_session(user, push_token, password_reset_until)
        audit.record("login", user["_id"], method="code")
        return issued

    # --- operator actions (admin CLI) ---------------------------------------------

    async def create_user(self, first_name: str, last_name: str, email: str, password: str, *,
                          verified: bool = True, lang: str = "en") -> UserDoc:
        """``verified=False``: the account waits for its email code (``isVerified: false``)."""
        first = clean_name(first_name, "firstName")
        last = clean_name(last_name, "lastName")
        address = normalise_email(email)
        passwords.check_new_password(password)
        hashed = await passwords.hash_password(password, self.bcrypt_rounds)
        t = now()
        doc: UserDoc = {
            "firstName": first, "lastName": last, "email": address, "password": hashed,
            "passwordChangedAt": None, "isActive": True, "isBlocked": False,
            "blockedUsers": [], "profilePicture": None, "lang": lang,
            "createdAt": t, "updatedAt": t,
        }
        if not verified:
            doc["isVerified"] = False
        try:
            return await self.storage.users.insert(doc)
        except DuplicateEmail:
            raise Conflict(Sentence.EMAIL_TAKEN) from None

    async def find_user(self, ref: str) -> UserDoc:
        """A user named by id or by email."""
        user_id = oid(ref)
        users = self.storage.users
        user = await (users.by_id(user_id) if user_id else users.by_email(ref.strip().lower()))
        if user is None:
            raise NotFound(f"No user {ref!r}")
        return user

    async def set_active(self, user: UserDoc, active: bool) -> UserDoc:
        """Deactivating also ends every session: reactivation means logging in again."""
        updated = await self._update(user, {"isActive": active})
        if not active:
            await self.storage.sessions.revoke_all(user["_id"])
        return updated

    async def set_banned(self, user: UserDoc, banned: bool) -> UserDoc:
        """Banning also ends every session: lifting a ban means logging in again."""
        updated = await self._update(user, {"isBlocked": banned})
        if banned:
            await self.storage.sessions.revoke_all(user["_id"])
        return updated

    async def set_password(self, user: UserDoc, password: str) -> UserDoc:
        return await self._set_password(user["_id"], password, field="password")

    async def unlock_logins(self, email: str) -> bool:
        """Lift the login throttle on this account at once; True if it held any failures.

        It acts on this process's throttle: in memory, or in Redis for every process."""
        return await self.throttle.unlock(email.strip().lower())

    async def logout_everywhere(self, user: UserDoc) -> int:
        return await self.storage.sessions.revoke_all(user["_id"])

    async def list_users(self, *, search: str | None, page: int, limit: int) -> tuple[list[UserDoc], int]:
        """Every user, deactivated and banned ones included (the directory shows only active ones)."""
        return await self.storage.users.search(text=check_search(search), exclude=None, active_only=False,
                                               skip=(page - 1) * limit, limit=limit)

    async def open_sessions(self, user: UserDoc) -> list[SessionDoc]:
        return await self.storage.sessions.active_for_user(user["_id"])

    # --- internals ----------------------------------------------------------------

    @staticmethod
    def _check_standing(user: UserDoc | None) -> UserDoc:
        problem = standing_problem(user)
        if problem is not None or user is None:
            raise Unauthorized(problem or Sentence.ACCOUNT_NOT_FOUND)
        return user

    async def _open_session(self, user: UserDoc, push_token: str | None,
                            password_reset_until: datetime | None = None) -> IssuedToken:
        issued = self.codec.issue(str(user["_id"]))
        await self.storage.sessions.create(user["_id"], issued.hash, issued.expires_at, push_token,
                                           password_reset_until=password_reset_until)
        return issued

    async def _set_password(self, user_id: ObjectId, password: str, field: str) -> UserDoc:
        passwords.check_new_password(password, field)
        hashed = await passwords.hash_password(password, self.bcrypt_rounds)
        user = await self.storage.users.update(user_id, {"password": hashed, "passwordChangedAt": now()})
        if user is None:
            raise NotFound("No such user")
        await self.storage.sessions.revoke_all(user_id)
        return user

    async def _update(self, user: UserDoc, fields: Query) -> UserDoc:
        updated = await self.storage.users.update(user["_id"], fields)
        if updated is None:
            raise NotFound("No such user")
        return updated
