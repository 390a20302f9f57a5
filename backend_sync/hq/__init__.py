"""HQ's side of the sync: ingest of kiosk events and the central profile store."""

from backend_sync.hq._ingest import IngestStats, IngestWorker
from backend_sync.hq._store import ProfileStore, StoredEvent, profile_key

__all__ = ["IngestStats", "IngestWorker", "ProfileStore", "StoredEvent", "profile_key"]
