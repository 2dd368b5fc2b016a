"""The composition root: the one place that wires storage, the domain handlers and a notifier.

A server builds its services with a notifier that reaches sockets; the admin CLI with
one that relays through the database (``RelayNotifier``). Nothing else constructs a
domain handler, so each is wired the same way everywhere.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from chatkit.domain.access import ChatAccess
from chatkit.domain.accounts import Accounts
from chatkit.domain.blocks import Blocks
from chatkit.domain.chat_cache import ChatCache
from chatkit.domain.clearing import Clearing
from chatkit.domain.codes import OneTimeCodes
from chatkit.domain.email_access import EmailAccess
from chatkit.domain.erasure import Erasure
from chatkit.domain.limits import BucketStore, MemoryBuckets, RateLimits
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
from chatkit.domain.throttle import LoginThrottle, ThrottleStore
from chatkit.domain.tokens import TokenCodec
from chatkit.domain.typing import Typing
from chatkit.settings import Settings
from chatkit.storage.database import Storage

if TYPE_CHECKING:
    from chatkit.domain.presence_sharing import PresenceSharing


@dataclass(frozen=True)
class Services:
    settings: Settings
    storage: Storage
    presence: Presence
    presence_feed: PresenceFeed
    presence_sharing: PresenceSharing | None  # with several processes (Redis); started by the server only
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
    limits: RateLimits  # checked by the transports before each write


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


@dataclass(frozen=True)
class SharedBuckets:
    """Where the buckets of limits per user or address live (``domain.limits``, the login
    throttles of ``domain.throttle``): one Redis, shared by every process, when
    ``CHATKIT_REDIS_URL`` is set (a None throttle store: this process's memory)."""

    limits: BucketStore
    logins: ThrottleStore | None = None
    bare_codes: ThrottleStore | None = None


def shared_buckets(settings: Settings) -> SharedBuckets:
    if settings.redis_url is None:
        return SharedBuckets(MemoryBuckets())
    from chatkit.storage import redis_limits  # redis-py only when a deployment uses Redis

    client = redis_limits.connect(settings.redis_url)  # closed with the rate limits
    prefix = settings.redis_prefix
    return SharedBuckets(redis_limits.RedisBuckets(client, f"{prefix}:rate"),
                         redis_limits.RedisThrottle(client, f"{prefix}:login"),
                         redis_limits.RedisThrottle(client, f"{prefix}:bare-code"))


def presence_sharing(settings: Settings, presence: Presence,
                     feed: PresenceFeed) -> PresenceSharing | None:
    """With a Redis URL, this process's presence is shared with the deployment's other
    processes (started by the server); else presence is this process's alone."""
    if settings.redis_url is None:
        return None
    from chatkit.domain.presence_sharing import PresenceSharing  # redis-py only when a deployment uses Redis
    from chatkit.storage.redis_presence import RedisPresence

    process = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    store = RedisPresence(settings.redis_url, settings.redis_prefix, process, settings.presence_ttl)
    return PresenceSharing(presence, feed, store, settings.presence_ttl)


def build_services(settings: Settings, storage: Storage, notifier: Notifier, *,
                   local: Notifier | None = None) -> Services:
    """``local``: a server's notifier for the sockets of this process only (presence is
    announced by each process to its own sockets); it makes presence shared when
    ``CHATKIT_REDIS_URL`` is set."""
    buckets = shared_buckets(settings)
    codec = TokenCodec(settings.resolved_jwt_secret, timedelta(days=settings.jwt_lifetime_days))
    accounts = Accounts(storage, codec, bcrypt_rounds=settings.bcrypt_rounds,
                        open_registration=settings.open_registration,
                        throttle=LoginThrottle(retry_seconds=settings.login_retry_seconds, store=buckets.logins),
                        verify_email=settings.verification_required)
    urls = MediaUrls(settings.resolved_jwt_secret, settings.media_url_days * 86400, settings.public_url)
    presence = Presence(settings.presence)
    feed = PresenceFeed(storage, presence, local or notifier)
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
                         per_hour=settings.codes_per_hour, bare_store=buckets.bare_codes)
    email_access = EmailAccess(storage, accounts, codes, profiles,
                               MailOutbox(storage, mails.wake) if mails.enabled else None,
                               required=settings.verification_required)
    return Services(
        settings=settings,
        storage=storage,
        presence=presence,
        accounts=accounts,
        presence_feed=feed,
        presence_sharing=presence_sharing(settings, presence, feed) if local is not None else None,
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
        limits=RateLimits.from_settings(settings, buckets.limits),
    )
