"""HQ: ingest of kiosk events into the central profile store, the profile API and its feed
of profile changes, the live push of those changes to the kiosk where their shopper
stands, the fleet view and its dashboard, catalog import and publishing, and broker
provisioning. It speaks ``kiosk_protocol`` with the kiosks; ``hq.cli`` is the ``kiosk hq``
command group. Errors: ``hq.exceptions``, one tree under ``HqError``.
"""

from hq._api import create_app
from hq._auth import ApiKeys, load_api_keys
from hq._changes import Change, ChangeLog
from hq._cluster import IngestCluster
from hq._credentials import HqBrokerUrls, write_credentials_folder
from hq._feed_api import ChangeFeed
from hq._files import FileServer, file_app
from hq._fleet import Alert, AlertKind, FleetThresholds, FleetView, KioskView
from hq._guard import GuardStats
from hq._http import ApiServer, ConnectionStats, HttpLimits
from hq._import import ImportReport, import_catalog
from hq._ingest import IngestStats, IngestWorker
from hq._presence import PRESENCE_BOUND_S, Presence, Stay
from hq._provision import BrokerSecurity, Credentials, hq_connection_names, mosquitto_password_hash, render_acl
from hq._publish import CatalogPublisher, announce
from hq._pusher import ProfilePusher, PushStats
from hq._responder import ProfileResponder, ResponderStats, tell_fleet_to_forget
from hq._store import Profile, ProfileStore, StoredEvent, profile_key, shopper_key
from hq.exceptions import (
    ApiRefusal,
    ClusterError,
    CredentialsError,
    HqError,
    ImportProblem,
    ImportRejected,
    PublishRefused,
)

__all__ = [
    "PRESENCE_BOUND_S",
    "Alert",
    "AlertKind",
    "ApiKeys",
    "ApiRefusal",
    "ApiServer",
    "BrokerSecurity",
    "CatalogPublisher",
    "Change",
    "ChangeFeed",
    "ChangeLog",
    "ClusterError",
    "ConnectionStats",
    "Credentials",
    "CredentialsError",
    "FileServer",
    "FleetThresholds",
    "FleetView",
    "GuardStats",
    "HqBrokerUrls",
    "HqError",
    "HttpLimits",
    "ImportProblem",
    "ImportRejected",
    "ImportReport",
    "IngestCluster",
    "IngestStats",
    "IngestWorker",
    "KioskView",
    "Presence",
    "Profile",
    "ProfilePusher",
    "ProfileResponder",
    "ProfileStore",
    "PublishRefused",
    "PushStats",
    "ResponderStats",
    "Stay",
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
