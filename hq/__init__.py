"""HQ: ingest of kiosk events into the central profile store, the profile API and its feed
of profile changes (followed, delivered to webhooks, and pushed live to the kiosk where
their shopper stands), the fleet view and its dashboard, the pages for shoppers' phones
(products, visits handed off from a kiosk), the store staff page (a store's open
requests, live), catalog import and publishing, and broker
provisioning. It speaks ``kiosk_protocol`` with the kiosks; ``hq.cli`` is the ``kiosk hq``
command group. Errors: ``hq.exceptions``, one tree under ``HqError``.
"""

from hq._alarm_delivery import AlarmDelivery, SmtpServer
from hq._alarm_log import EVERY_STORE, Alarm, AlarmKey, AlarmKind, AlarmLog, AlarmRoute
from hq._alarm_watch import AlarmWatch, AlarmWatchStats
from hq._alarms_cli import SMTP_URL_ENV
from hq._analytics import ATTRIBUTION_DAYS, Analytics
from hq._analytics_api import AnalyticsStats, answer_csv
from hq._analytics_queries import AnalyticsQueries, AnalyticsRange, OfferCounts, RangeRefused
from hq._api import create_app
from hq._auth import ApiKeys, Grant, KeyRole, load_api_keys, write_new_api_keys
from hq._changes import Change, ChangeLog
from hq._cluster import IngestCluster
from hq._credentials import HqBrokerUrls, write_credentials_folder
from hq._delivery import DeliveryPolicy, WebhookDelivery
from hq._enrolment import Enrolments, KioskProvisioner, KioskSettings
from hq._feed_api import ChangeFeed
from hq._files import FileServer, file_app
from hq._fleet import Alert, AlertKind, FleetThresholds, FleetView, KioskView, StoreAlerts
from hq._guard import GuardStats
from hq._handoff import HandoffClaims, HandoffKey, HandoffSigner
from hq._hold_sweeper import HoldSweeper, SweepStats
from hq._http import ApiServer, ConnectionStats, HttpLimits
from hq._import import ImportReport, import_catalog
from hq._ingest import IngestStats, IngestWorker
from hq._live import LiveStats, StoreLiveFollower
from hq._migrations import newest_revision, revision_of, upgrade_schema
from hq._offer_import import OfferImportReport, import_offers, read_offers
from hq._phone_pages import PhonePages, PhoneStats
from hq._phone_sessions import PhoneSessions, PhoneVisit
from hq._phone_views import CatalogFile
from hq._presence import PRESENCE_BOUND_S, Presence, Stay
from hq._provision import BrokerSecurity, Credentials, hq_connection_names, mosquitto_password_hash, render_acl
from hq._publish import CatalogPublisher, announce
from hq._pusher import ProfilePusher, PushStats
from hq._releases import PublishedRelease, SoftwarePublisher, published_release, published_releases
from hq._request_alerts import RequestAlerts, RequestWatch
from hq._responder import ProfileResponder, ResponderStats, tell_fleet_to_forget
from hq._rollout_stages import RolloutState, Stage
from hq._rollout_watch import RolloutWatch, RolloutWatchStats
from hq._rollouts import Rollout, RolloutLog
from hq._staff_pages import StaffPage, StaffStats
from hq._staff_sessions import StaffSession, StaffSessions
from hq._store import Profile, ProfileStore, StoredEvent, profile_key, shopper_key
from hq._uptime import UptimeLog
from hq._webhooks import ParkedChange, Webhook, Webhooks, WebhookStatus
from hq.exceptions import (
    ApiRefusal,
    ClusterError,
    CredentialsError,
    HandoffRefused,
    HqError,
    ImportProblem,
    ImportRejected,
    LinkRefusal,
    PublishRefused,
    RolloutRefused,
    SchemaOutOfDate,
    WebhookRefused,
)

__all__ = [
    "ATTRIBUTION_DAYS",
    "EVERY_STORE",
    "PRESENCE_BOUND_S",
    "SMTP_URL_ENV",
    "Alarm",
    "AlarmDelivery",
    "AlarmKey",
    "AlarmKind",
    "AlarmLog",
    "AlarmRoute",
    "AlarmWatch",
    "AlarmWatchStats",
    "Alert",
    "AlertKind",
    "Analytics",
    "AnalyticsQueries",
    "AnalyticsRange",
    "AnalyticsStats",
    "ApiKeys",
    "ApiRefusal",
    "ApiServer",
    "BrokerSecurity",
    "CatalogFile",
    "CatalogPublisher",
    "Change",
    "ChangeFeed",
    "ChangeLog",
    "ClusterError",
    "ConnectionStats",
    "Credentials",
    "CredentialsError",
    "DeliveryPolicy",
    "Enrolments",
    "FileServer",
    "FleetThresholds",
    "FleetView",
    "Grant",
    "GuardStats",
    "HandoffClaims",
    "HandoffKey",
    "HandoffRefused",
    "HandoffSigner",
    "HoldSweeper",
    "HqBrokerUrls",
    "HqError",
    "HttpLimits",
    "ImportProblem",
    "ImportRejected",
    "ImportReport",
    "IngestCluster",
    "IngestStats",
    "IngestWorker",
    "KeyRole",
    "KioskProvisioner",
    "KioskSettings",
    "KioskView",
    "LinkRefusal",
    "LiveStats",
    "OfferCounts",
    "OfferImportReport",
    "ParkedChange",
    "PhonePages",
    "PhoneSessions",
    "PhoneStats",
    "PhoneVisit",
    "Presence",
    "Profile",
    "ProfilePusher",
    "ProfileResponder",
    "ProfileStore",
    "PublishRefused",
    "PublishedRelease",
    "PushStats",
    "RangeRefused",
    "RequestAlerts",
    "RequestWatch",
    "ResponderStats",
    "Rollout",
    "RolloutLog",
    "RolloutRefused",
    "RolloutState",
    "RolloutWatch",
    "RolloutWatchStats",
    "SchemaOutOfDate",
    "SmtpServer",
    "SoftwarePublisher",
    "StaffPage",
    "StaffSession",
    "StaffSessions",
    "StaffStats",
    "Stage",
    "Stay",
    "StoreAlerts",
    "StoreLiveFollower",
    "StoredEvent",
    "SweepStats",
    "UptimeLog",
    "Webhook",
    "WebhookDelivery",
    "WebhookRefused",
    "WebhookStatus",
    "Webhooks",
    "announce",
    "answer_csv",
    "create_app",
    "file_app",
    "hq_connection_names",
    "import_catalog",
    "import_offers",
    "load_api_keys",
    "mosquitto_password_hash",
    "newest_revision",
    "profile_key",
    "published_release",
    "published_releases",
    "read_offers",
    "render_acl",
    "revision_of",
    "shopper_key",
    "tell_fleet_to_forget",
    "upgrade_schema",
    "write_credentials_folder",
    "write_new_api_keys",
]
