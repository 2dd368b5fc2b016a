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
from chatkit.domain.clearing import Clearing
from chatkit.domain.listings import Listings
from chatkit.domain.notifier import Notifier
from chatkit.domain.presence import Presence, PresenceFeed
from chatkit.domain.pushes import PushOutbox
from chatkit.domain.receipts import Receipts
from chatkit.domain.sending import Sending
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


def build_services(settings: Settings, storage: Storage, notifier: Notifier) -> Services:
    codec = TokenCodec(settings.resolved_jwt_secret, timedelta(days=settings.jwt_lifetime_days))
    accounts = Accounts(storage, codec, bcrypt_rounds=settings.bcrypt_rounds,
                        open_registration=settings.open_registration)
    presence = Presence(settings.presence)
    feed = PresenceFeed(storage, presence, notifier)
    access = ChatAccess(storage)
    receipts = Receipts(storage, access, presence, notifier)
    return Services(
        settings=settings,
        storage=storage,
        presence=presence,
        accounts=accounts,
        presence_feed=feed,
        sending=Sending(storage, access, presence, feed, notifier, PushOutbox(storage)),
        receipts=receipts,
        typing=Typing(storage, access, notifier),
        blocks=Blocks(storage, notifier),
        clearing=Clearing(storage, access),
        listings=Listings(storage, access, presence, receipts),
    )
