"""The services one running server (or one admin command) is made of."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from chatkit.domain.accounts import Accounts
from chatkit.domain.messaging import Messaging
from chatkit.domain.presence import Presence
from chatkit.settings import Settings
from chatkit.storage.database import Storage


@dataclass
class Services:
    settings: Settings
    storage: Storage
    accounts: Accounts
    presence: Presence
    messaging: Messaging


SERVICES = web.AppKey("services", Services)
