"""HQ's side of the sync: ingest of kiosk events and the central profile store."""

from backend_sync.hq._api import create_app
from backend_sync.hq._auth import ApiKeys, load_api_keys
from backend_sync.hq._cluster import IngestCluster
from backend_sync.hq._credentials import HqBrokerUrls, write_credentials_folder
from backend_sync.hq._files import FileServer, file_app
from backend_sync.hq._fleet import Alert, AlertKind, FleetThresholds, FleetView, KioskView
from backend_sync.hq._guard import GuardStats
from backend_sync.hq._http import ApiServer, ConnectionStats, HttpLimits
from backend_sync.hq._import import ImportProblem, ImportRejected, ImportReport, import_catalog
from backend_sync.hq._ingest import IngestStats, IngestWorker
from backend_sync.hq._provision import (
    BrokerSecurity,
    Credentials,
    hq_connection_names,
    mosquitto_password_hash,
    render_acl,
)
from backend_sync.hq._publish import CatalogPublisher, announce
from backend_sync.hq._responder import ProfileResponder, ResponderStats, tell_fleet_to_forget
from backend_sync.hq._store import Profile, ProfileStore, StoredEvent, profile_key, shopper_key

__all__ = [
    "Alert",
    "AlertKind",
    "ApiKeys",
    "ApiServer",
    "BrokerSecurity",
    "CatalogPublisher",
    "ConnectionStats",
    "Credentials",
    "FileServer",
    "FleetThresholds",
    "FleetView",
    "GuardStats",
    "HqBrokerUrls",
    "HttpLimits",
    "ImportProblem",
    "ImportRejected",
    "ImportReport",
    "IngestCluster",
    "IngestStats",
    "IngestWorker",
    "KioskView",
    "Profile",
    "ProfileResponder",
    "ProfileStore",
    "ResponderStats",
    "StoredEvent",
    "announce",
    "create_app",
    "file_app",
    "hq_connection_names",
    "import_catalog",
    "load_api_keys",
    "mosquitto_password_hash",
    "profile_key",
    "render_acl",
    "shopper_key",
    "tell_fleet_to_forget",
    "write_credentials_folder",
]
