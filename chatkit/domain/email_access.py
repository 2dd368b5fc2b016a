"""Accounts by email: verification at sign-up, and signing in by an emailed code.

The original backend's flow, with its replies: with verification required, ``register``
stores the account unverified and mails a code instead of returning a token;
``verify-account`` exchanges the code for a token; a login to an unverified account
mails a new code instead of a token. ``send-otp`` mails a sign-in code and
``verify-otp`` exchanges it for a token, after which the new session may set a password
without the old one for ``RESET_WINDOW`` (how a forgotten password is replaced).

Fixed here: codes die after 5 wrong guesses and an address gets a few codes an hour
(``codes``); nothing tells whether an address has an account: ``send-otp`` answers
alike, and registering an address that has an account answers like a new sign-up
while the mail to that address says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from bson import ObjectId

from chatkit.domain import audit
from chatkit.domain.accounts import Accounts, Unverified, clean_name, lookup_email, normalise_email, standing_problem
from chatkit.domain.codes import OneTimeCodes
from chatkit.domain.errors import BadRequest, Conflict, Forbidden, Unavailable
from chatkit.domain.images import CleanImage
from chatkit.domain.mail.outbox import MailOutbox
from chatkit.domain.mail.text import EXISTS, SIGN_IN, VERIFY, compose
from chatkit.domain.profiles import Profiles
from chatkit.domain.tokens import IssuedToken
from chatkit.protocol import Sentence
from chatkit.storage.database import Storage
from chatkit.storage.documents import UserDoc
from chatkit.wire import now

RESET_WINDOW: Final = timedelta(minutes=10)


@dataclass(frozen=True)
class SignIn:
    """A login's outcome: a token, or (``issued`` None) a verification code mailed instead."""

    user: UserDoc
    issued: IssuedToken | None


class EmailAccess:
    def __init__(self, storage: Storage, accounts: Accounts, codes: OneTimeCodes, profiles: Profiles,
                 outbox: MailOutbox | None, *, required: bool) -> None:
        self.storage = storage
        self.accounts = accounts
        self.codes = codes
        self.profiles = profiles
        self.outbox = outbox  # None: no SMTP configured
        self.required = required

    async def register(self, first_name: str, last_name: str, email: str, password: str, *, lang: str,
                       picture: CleanImage | None = None) -> UserDoc:
        """An unverified account and a code mailed to it; for an address that already has
        an account, the same reply (a user that is never stored) and a mail saying so."""
        if not self.accounts.open_registration:
            raise Forbidden(Sentence.REGISTRATION_CLOSED)
        address = normalise_email(email)
        await self.codes.check_limit(address)
        try:
            user = await self.accounts.create_user(first_name, last_name, address, password, verified=False, lang=lang)
        except Conflict:
            await self.codes.issue(address, EXISTS, None)
            await self._mail(address, EXISTS, lang)
            return _stand_in(first_name, last_name, address, lang)
        if picture is not None:
            user = await self.profiles.update(user, picture=picture)
        await self.mail_code(user, VERIFY, lang)
        audit.record("register", user["_id"], email=user["email"], verified=False)
        return user

    async def login(self, email: str, password: str, notification_token: str | None, *, client: str | None,
                    lang: str | None) -> SignIn:
        try:
            user, issued = await self.accounts.login(email, password, notification_token, client=client)
        except Unverified as exc:
            await self.mail_code(exc.user, VERIFY, lang)
            return SignIn(exc.user, None)
        return SignIn(user, issued)

    async def verify_account(self, email: str, code: str, notification_token: str | None) -> SignIn:
        doc = await self.codes.redeem(lookup_email(email), VERIFY, code)
        user = await self._verified(doc.get("userId"))
        return SignIn(user, await self.accounts.sign_in(user, notification_token))

    async def send_otp(self, email: str, lang: str | None) -> None:
        """Mail a sign-in code if the address has a usable account; answer alike either way."""
        if self.outbox is None:
            raise Unavailable(Sentence.MAIL_UNAVAILABLE)
        address = normalise_email(email)
        user = await self.storage.users.by_email(address)
        if user is None or standing_problem(user) is not None:
            await self.codes.issue(address, SIGN_IN, None)  # counted, so the limit answers alike
            return
        await self.mail_code(user, SIGN_IN, lang)

    async def verify_otp(self, email: str | None, code: str, notification_token: str | None, *,
                         client: str | None) -> SignIn:
        """A session from a sign-in code, allowed to set a new password for ``RESET_WINDOW``."""
        if email is not None:
            doc = await self.codes.redeem(lookup_email(email), SIGN_IN, code)
        else:
            doc = await self.codes.redeem_bare(SIGN_IN, code, client)
        user = await self._verified(doc.get("userId"))  # the code proves the address too
        issued = await self.accounts.sign_in(user, notification_token, password_reset_until=now() + RESET_WINDOW)
        return SignIn(user, issued)

    async def mark_verified(self, user: UserDoc) -> UserDoc:
        """An operator vouches for the address (``chatkit admin users verify``)."""
        return await self._verified(user["_id"])

    async def mail_code(self, user: UserDoc, kind: str, lang: str | None) -> None:
        if self.outbox is None:
            raise Unavailable(Sentence.MAIL_UNAVAILABLE)
        address = user["email"]
        code = await self.codes.issue(address, kind, user["_id"])
        await self._mail(address, kind, lang or user.get("lang") or "en", code or "")

    async def _mail(self, address: str, kind: str, lang: str, code: str = "") -> None:
        if self.outbox is None:
            raise Unavailable(Sentence.MAIL_UNAVAILABLE)
        text = compose(kind, lang, code=code, minutes=self.codes.lifetime_minutes)
        await self.outbox.queue(address, kind, text, now() + self.codes.lifetime)

    async def _verified(self, user_id: ObjectId | None) -> UserDoc:
        user = await self.storage.users.by_id(user_id) if user_id is not None else None
        if user is None:
            raise BadRequest(Sentence.BAD_CODE)
        if user.get("isVerified") is False:
            user = await self.storage.users.update(user["_id"], {"isVerified": True}) or user
        return user


def _stand_in(first_name: str, last_name: str, address: str, lang: str) -> UserDoc:
    """What a new account's reply would show, for an address that has an account: never stored."""
    t = now()
    return {"_id": ObjectId(), "firstName": clean_name(first_name, "firstName"),
            "lastName": clean_name(last_name, "lastName"), "email": address, "passwordChangedAt": None,
            "isActive": True, "isBlocked": False, "blockedUsers": [], "profilePicture": None, "lang": lang,
            "createdAt": t, "updatedAt": t}
