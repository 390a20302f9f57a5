"""Sync between kiosks and HQ: the wire contract, the catalog, the kiosk's durable
outbox and MQTT link, and the embedded demo broker. HQ's side is ``backend_sync.hq``.
"""

from backend_sync._broker import EmbeddedBroker
from backend_sync._link import KioskFacts, KioskLink, LinkStats
from backend_sync._manifest import Manifest, Refusal, UpdateKind, UpdateRefused
from backend_sync._mqtt import BrokerUrl
from backend_sync._outbox import Outbox, OutboxReset, PendingMessage, SequenceFloor, damaged_outboxes
from backend_sync._private_files import write_atomically
from backend_sync._profile_cache import ProfileCache
from backend_sync._updater import CatalogUpdater, ModelUpdater
from backend_sync.catalog import Catalog, Product, load_catalog
from backend_sync.contract import (
    CommandKind,
    ConsentStatus,
    EventKind,
    KioskCommand,
    KioskStatus,
    KioskTopics,
    LinkState,
    ProfileResponse,
    TapEvent,
    decode_event,
    decode_status,
    encode_event,
    events_topic,
    kiosk_topics,
    new_event,
    shopper_hash,
)
from backend_sync.exceptions import (
    CardRefused,
    CatalogError,
    ContractError,
    MessageTooLarge,
    OutboxFull,
    OutboxUnavailable,
    SyncError,
)
from backend_sync.hlc import Hlc, HlcClock

__all__ = [
    "BrokerUrl",
    "CardRefused",
    "Catalog",
    "CatalogError",
    "CatalogUpdater",
    "CommandKind",
    "ConsentStatus",
    "ContractError",
    "EmbeddedBroker",
    "EventKind",
    "Hlc",
    "HlcClock",
    "KioskCommand",
    "KioskFacts",
    "KioskLink",
    "KioskStatus",
    "KioskTopics",
    "LinkState",
    "LinkStats",
    "Manifest",
    "MessageTooLarge",
    "ModelUpdater",
    "Outbox",
    "OutboxFull",
    "OutboxReset",
    "OutboxUnavailable",
    "PendingMessage",
    "Product",
    "ProfileCache",
    "ProfileResponse",
    "Refusal",
    "SequenceFloor",
    "SyncError",
    "TapEvent",
    "UpdateKind",
    "UpdateRefused",
    "damaged_outboxes",
    "decode_event",
    "decode_status",
    "encode_event",
    "events_topic",
    "kiosk_topics",
    "load_catalog",
    "new_event",
    "shopper_hash",
    "write_atomically",
]
