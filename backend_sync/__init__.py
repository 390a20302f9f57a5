"""The kiosk's side of the sync with HQ: its durable outbox, its MQTT link, the catalog and
model updaters, the profile cache, and what HQ's services use too: the one MQTT client
(``MqttClient``, ``publish_once``) and the secret-URL helpers. The protocol both sides
speak is ``kiosk_protocol``; HQ itself is ``hq``.

Each name is imported from its module when first used, so HQ, which takes only the MQTT
and secret-URL helpers, loads neither the kiosk's outbox nor its updaters (``requests``,
which HQ's install does not have).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from backend_sync._link import KioskFacts, KioskLink, LinkStats
    from backend_sync._mqtt import BrokerUrl, LastWill, MessageHandler, MqttClient, Protocol, publish_once
    from backend_sync._outbox import Outbox, OutboxReset, PendingMessage, SequenceFloor, damaged_outboxes
    from backend_sync._profile_cache import ProfileCache
    from backend_sync._secret_files import read_url_file
    from backend_sync._secret_urls import BROKER_URL_ENV, DB_URL_ENV, secret_url_option, without_password
    from backend_sync._signals import calling_on_signal, wait_for_signal
    from backend_sync._store_link import StoreReceivers
    from backend_sync._systemd import SystemdNotifier
    from backend_sync._updater import CatalogUpdater, ModelUpdater, SoftwareUpdater
    from backend_sync.exceptions import OutboxFull, OutboxUnavailable

_MODULES = {
    "backend_sync._link": ("KioskFacts", "KioskLink", "LinkStats"),
    "backend_sync._mqtt": ("BrokerUrl", "LastWill", "MessageHandler", "MqttClient", "Protocol", "publish_once"),
    "backend_sync._outbox": ("Outbox", "OutboxReset", "PendingMessage", "SequenceFloor", "damaged_outboxes"),
    "backend_sync._profile_cache": ("ProfileCache",),
    "backend_sync._secret_files": ("read_url_file",),
    "backend_sync._secret_urls": ("BROKER_URL_ENV", "DB_URL_ENV", "secret_url_option", "without_password"),
    "backend_sync._signals": ("calling_on_signal", "wait_for_signal"),
    "backend_sync._store_link": ("StoreReceivers",),
    "backend_sync._systemd": ("SystemdNotifier",),
    "backend_sync._updater": ("CatalogUpdater", "ModelUpdater", "SoftwareUpdater"),
    "backend_sync.exceptions": ("OutboxFull", "OutboxUnavailable"),
}
_HOME = {name: module for module, names in _MODULES.items() for name in names}

__all__ = [
    "BROKER_URL_ENV",
    "DB_URL_ENV",
    "BrokerUrl",
    "CatalogUpdater",
    "KioskFacts",
    "KioskLink",
    "LastWill",
    "LinkStats",
    "MessageHandler",
    "ModelUpdater",
    "MqttClient",
    "Outbox",
    "OutboxFull",
    "OutboxReset",
    "OutboxUnavailable",
    "PendingMessage",
    "ProfileCache",
    "Protocol",
    "SequenceFloor",
    "SoftwareUpdater",
    "StoreReceivers",
    "SystemdNotifier",
    "calling_on_signal",
    "damaged_outboxes",
    "publish_once",
    "read_url_file",
    "secret_url_option",
    "wait_for_signal",
    "without_password",
]


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
