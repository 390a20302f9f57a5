"""The kiosk's side of the sync with HQ: its durable outbox, its MQTT link, the catalog and
model updaters, the profile cache, and what HQ's services use too: the one MQTT client
(``MqttClient``, ``publish_once``) and the secret-URL helpers. The protocol both sides
speak is ``kiosk_protocol``; HQ itself is ``hq``.
"""

from backend_sync._link import KioskFacts, KioskLink, LinkStats
from backend_sync._mqtt import BrokerUrl, LastWill, MessageHandler, MqttClient, Protocol, publish_once
from backend_sync._outbox import Outbox, OutboxReset, PendingMessage, SequenceFloor, damaged_outboxes
from backend_sync._profile_cache import ProfileCache
from backend_sync._secret_files import read_url_file
from backend_sync._secret_urls import BROKER_URL_ENV, DB_URL_ENV, secret_url_option, without_password
from backend_sync._signals import calling_on_signal, wait_for_signal
from backend_sync._updater import CatalogUpdater, ModelUpdater
from backend_sync.exceptions import OutboxFull, OutboxUnavailable

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
    "calling_on_signal",
    "damaged_outboxes",
    "publish_once",
    "read_url_file",
    "secret_url_option",
    "wait_for_signal",
    "without_password",
]
