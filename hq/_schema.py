"""The tables of HQ's profile store (``_store``): profiles, their events, and what merges into them
(``_changes`` adds the change log's to the same metadata)."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_KEY = sa.String(160)

profiles = sa.Table(
    "profiles", metadata,
    sa.Column("profile_key", _KEY, primary_key=True),
    sa.Column("shopper", sa.String(128), nullable=True, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
)
events = sa.Table(
    "events", metadata,
    sa.Column("event_id", sa.String(36), primary_key=True),
    sa.Column("profile_key", _KEY, nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("session", sa.String(36), nullable=False, index=True),
    sa.Column("sku", sa.String(32), nullable=True),
    # Beyond the product: a consent, a preference (``key=value``), the product a suggestion was beside,
    # a name, an offer, the SKUs of the suggestions shown (up to 12 of 32 characters, space-separated)
    # or a visit's seconds. A database made with the shorter column of old takes the longest lists
    # after ``ALTER TABLE events ALTER COLUMN detail TYPE varchar(400)``.
    sa.Column("detail", sa.String(400), nullable=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
)
# The highest sequence of each kiosk, for its receipts, without reading all its events.
kiosk_seq = sa.Index("eventskiosk_seq", events.c.store, events.c.kiosk, events.c.seq)
# Sign taps by offer and store, for the dashboard's counts: only offer_tap rows are indexed. A query
# names them by OFFER_TAP_ROWS, a literal (not a bound value), so the planner sees the index applies.
OFFER_TAP_ROWS = events.c.kind == sa.literal_column("'offer_tap'")
offer_taps = sa.Index("events_offer_taps", events.c.detail, events.c.store, postgresql_where=OFFER_TAP_ROWS,
                      sqlite_where=OFFER_TAP_ROWS)
wishlist = sa.Table(
    "wishlist", metadata,
    sa.Column("profile_key", _KEY, primary_key=True),
    sa.Column("sku", sa.String(32), primary_key=True),
    sa.Column("added", sa.String(90), nullable=True),
    sa.Column("removed", sa.String(90), nullable=True),
)
preferences = sa.Table(
    "preferences", metadata,
    sa.Column("profile_key", _KEY, primary_key=True),
    sa.Column("key", sa.String(32), primary_key=True),
    sa.Column("value", sa.String(256), nullable=False),
    sa.Column("hlc", sa.String(90), nullable=False),
)
display_names = sa.Table(
    "display_names", metadata,
    sa.Column("profile_key", _KEY, primary_key=True),
    sa.Column("display_name", sa.String(64), nullable=False),
    sa.Column("hlc", sa.String(90), nullable=False),
)
consents = sa.Table(
    "consents", metadata,
    sa.Column("profile_key", _KEY, nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("hlc", sa.String(90), nullable=False),
    sa.Column("session", sa.String(36), nullable=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
session_links = sa.Table(
    "session_links", metadata,
    sa.Column("session", sa.String(36), primary_key=True),
    sa.Column("profile_key", _KEY, nullable=False, index=True),
)
# Visits in which HQ has checked the shopper's card: session -> the kiosk and the shopper.
card_visits = sa.Table(
    "card_visits", metadata,
    sa.Column("session", sa.String(36), primary_key=True),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("profile_key", _KEY, nullable=False, index=True),
    sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
)
erased = sa.Table(
    "erased", metadata,
    sa.Column("shopper_hash", sa.String(64), primary_key=True),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
)
# Dashboard sign-ins ended before they expired, so no HQ process takes their cookie again.
revoked_sessions = sa.Table(
    "revoked_sessions", metadata,
    sa.Column("token_digest", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)
# What an erase deletes by profile key, besides its events and the profile itself.
PROFILE_TABLES = (wishlist, preferences, display_names, consents, session_links, card_visits)
# A visit continued on a shopper's phone (``_phone_sessions``), opened by a hand-off link.
phone_sessions = sa.Table(
    "phone_sessions", metadata,
    sa.Column("nonce", sa.String(32), primary_key=True),  # the link's: its one use
    sa.Column("secret_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("form_token", sa.String(64), nullable=False),
    sa.Column("store", sa.String(64), nullable=False),
    sa.Column("kiosk", sa.String(64), nullable=False),
    sa.Column("session", sa.String(36), nullable=False),
    sa.Column("shopper", sa.String(128), nullable=True),
    sa.Column("opened_at_ms", sa.BigInteger, nullable=False),
    sa.Column("ends_at_ms", sa.BigInteger, nullable=False, index=True),
)
# Rollouts of kiosk software releases (``_rollouts``), a stage at a time; ``open_key`` is "open" while
# one is unfinished (running or halted) and NULL once done: one unfinished rollout at a time, for every HQ process.
rollouts = sa.Table(
    "rollouts", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("release", sa.Integer, nullable=False),
    sa.Column("label", sa.String(40), nullable=False),
    sa.Column("canary", sa.Text, nullable=False),  # JSON list of "store/kiosk"
    sa.Column("percent", sa.Integer, nullable=False),
    sa.Column("stage", sa.String(8), nullable=False),  # canary | percent | all | done
    sa.Column("state", sa.String(8), nullable=False),  # running | halted | done
    sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("halted_reason", sa.String(300), nullable=True),
    sa.Column("left_out", sa.Text, nullable=False),  # JSON list of "store/kiosk": failed, and resumed without them
    sa.Column("progress", sa.Text, nullable=True),  # JSON counts of the last round, for `kiosk hq rollout status`
    sa.Column("open_key", sa.String(8), nullable=True, unique=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
