"""HQ's side of the sync: ingest of kiosk events and the central profile store."""

from backend_sync.hq._files import FileServer, file_app
from backend_sync.hq._ingest import IngestStats, IngestWorker
from backend_sync.hq._provision import BrokerSecurity, Credentials, mosquitto_password_hash, render_acl
from backend_sync.hq._publish import CatalogPublisher, announce
from backend_sync.hq._responder import ProfileResponder, ResponderStats, tell_fleet_to_forget
from backend_sync.hq._store import Profile, ProfileStore, StoredEvent, profile_key, shopper_key

__all__ = [
    "BrokerSecurity",
    "CatalogPublisher",
    "Credentials",
    "FileServer",
    "IngestStats",
    "IngestWorker",
    "Profile",
    "ProfileResponder",
    "ProfileStore",
    "ResponderStats",
    "StoredEvent",
    "announce",
    "file_app",
    "mosquitto_password_hash",
    "profile_key",
    "render_acl",
    "shopper_key",
    "tell_fleet_to_forget",
]
