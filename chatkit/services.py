"""The composition root: the one place that wires storage, the domain handlers and a notifier.

A server builds its services with a notifier that reaches sockets; the admin CLI with
one that relays through the database (``RelayNotifier``). Nothing else constructs a
domain handler, so each is wired the same way everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from chatkit.domain.access import ChatAccess
from chatkit.domain.accounts import Accounts
from chatkit.domain.blocks import Blocks
from chatkit.domain.chat_cache import ChatCache
from chatkit.domain.clearing import Clearing
from chatkit.domain.codes import OneTimeCodes
from chatkit.domain.email_access import EmailAccess
from chatkit.domain.erasure import Erasure
from chatkit.domain.listings import Listings
from chatkit.domain.mail.outbox import MailOutbox
from chatkit.domain.mail.report import MailReport
from chatkit.domain.mail.sender import MailSender
from chatkit.domain.mail.smtp import SmtpConfig, SmtpTransport
from chatkit.domain.media import MediaLibrary
from chatkit.domain.media_urls import MediaUrls
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.domain.profiles import Profiles
from chatkit.domain.push.backends import PushBackend, RecordOnlyBackend
from chatkit.domain.push.firebase import FirebaseBackend
from chatkit.domain.push.outbox import PushOutbox
from chatkit.domain.push.report import PushReport
from chatkit.domain.push.sender import PushSender
from chatkit.domain.receipts import Receipts
from chatkit.domain.sending import Sending
from chatkit.domain.throttle import LoginThrottle
from chatkit.domain.tokens import TokenCodec
from chatkit.domain.typing import Typing
from chatkit.settings import Settings
from chatkit.storage.database import Storage


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    presence: Presence
    presence_feed: PresenceFeed
    accounts: Accounts
    sending: Sending
    receipts: Receipts
    typing: Typing
    blocks: Blocks
    clearing: Clearing
    listings: Listings
    media_urls: MediaUrls
    media: MediaLibrary
    push_sender: PushSender  # started by the server only
    push_report: PushReport
    chat_cache: ChatCache  # held only while a server follows the change stream
    profiles: Profiles
    email_access: EmailAccess
    mail_sender: MailSender  # started by the server only (and only with SMTP configured)
    mail_report: MailReport
    erasure: Erasure


def push_backend(settings: Settings) -> PushBackend:
    """Firebase when a service-account key is configured, else a record of what would be sent."""
    if settings.firebase_credentials is not None:
        return FirebaseBackend(settings.firebase_credentials, settings.fcm_endpoint)
    return RecordOnlyBackend()


def mail_sender(settings: Settings, storage: Storage) -> MailSender:
    """SMTP when ``CHATKIT_SMTP_URL`` is set; else a sender that never runs (no mail is queued)."""
    transport = None
    if settings.smtp_url is not None:
        transport = SmtpTransport(SmtpConfig.from_url(settings.smtp_url, settings.mail_from))
    return MailSender(storage, transport)


def build_services(settings: Settings, storage: Storage, notifier: Notifier) -> Services:
    codec = TokenCodec(settings.resolved_jwt_secret, timedelta(days=settings.jwt_lifetime_days))
    accounts = Accounts(storage, codec, bcrypt_rounds=settings.bcrypt_rounds,
                        open_registration=settings.open_registration,
                        throttle=LoginThrottle(retry_seconds=settings.login_retry_seconds),
                        verify_email=settings.verification_required)
    urls = MediaUrls(settings.resolved_jwt_secret, settings.media_url_days * 86400, settings.public_url)
    presence = Presence(settings.presence)
    feed = PresenceFeed(storage, presence, notifier)
    access = ChatAccess(storage)
    cache = ChatCache(storage)
    receipts = Receipts(storage, access, presence, notifier)
    backend = push_backend(settings)
    push_sender = PushSender(storage, backend)
    pushes = PushOutbox(storage, queue=backend.sends, interval=settings.push_interval, wake=push_sender.wake,
                        image_url=urls.public)
    profiles = Profiles(storage, urls)
    mails = mail_sender(settings, storage)
    codes = OneTimeCodes(storage, settings.resolved_jwt_secret, lifetime=settings.code_lifetime,
                         per_hour=settings.codes_per_hour)
    email_access = EmailAccess(storage, accounts, codes, profiles,
                               MailOutbox(storage, mails.wake) if mails.enabled else None,
                               required=settings.verification_required)
    return Services(
        settings=settings,
        storage=storage,
        presence=presence,
        accounts=accounts,
        presence_feed=feed,
        sending=Sending(storage, presence, feed, notifier, pushes, urls, cache),
        receipts=receipts,
        typing=Typing(storage, access, notifier),
        blocks=Blocks(storage, notifier),
        clearing=Clearing(storage, access),
        listings=Listings(storage, access, presence, receipts, urls),
        media_urls=urls,
        media=MediaLibrary(storage, accounts, urls),
        push_sender=push_sender,
        push_report=PushReport(storage),
        chat_cache=cache,
        erasure=Erasure(storage),
        profiles=profiles,
        email_access=email_access,
        mail_sender=mails,
        mail_report=MailReport(storage),
    )
