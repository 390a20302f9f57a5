"""The schema of the release before versioned schemas: every table and index, made where missing.

Revision ID: 0001
Revises: nothing (the first)
Created: 2026-12-02 13:45:00.440707
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # A database of the release before versioned schemas has most of these already: only what it lacks is made.
    if _missing("analytics_kiosk_days"):
        op.create_table(
            "analytics_kiosk_days",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("taps", sa.BigInteger(), nullable=False),
            sa.Column("visits", sa.BigInteger(), nullable=False),
            sa.Column("ended", sa.BigInteger(), nullable=False),
            sa.Column("dwell_s", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store", "kiosk"),
        )
    if _missing("analytics_kiosk_spans"):
        op.create_table(
            "analytics_kiosk_spans",
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ended", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("store", "kiosk", "started_at"),
        )
    if _missing("analytics_offer_days"):
        op.create_table(
            "analytics_offer_days",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("offer", sa.String(length=48), nullable=False),
            sa.Column("taps", sa.BigInteger(), nullable=False),
            sa.Column("saves", sa.BigInteger(), nullable=False),
            sa.Column("redemptions", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store", "offer"),
        )
    if _missing("analytics_product_days"):
        op.create_table(
            "analytics_product_days",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("taps", sa.BigInteger(), nullable=False),
            sa.Column("visits", sa.BigInteger(), nullable=False),
            sa.Column("wishlisted", sa.BigInteger(), nullable=False),
            sa.Column("reserved", sa.BigInteger(), nullable=False),
            sa.Column("ordered", sa.BigInteger(), nullable=False),
            sa.Column("suggestion_taps", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store", "sku"),
        )
    if _missing("analytics_shown_days"):
        op.create_table(
            "analytics_shown_days",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("shown", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store", "sku"),
        )
    if _missing("analytics_store_days"):
        op.create_table(
            "analytics_store_days",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("visits", sa.BigInteger(), nullable=False),
            sa.Column("signed_in", sa.BigInteger(), nullable=False),
            sa.Column("consented", sa.BigInteger(), nullable=False),
            sa.Column("ended", sa.BigInteger(), nullable=False),
            sa.Column("dwell_s", sa.BigInteger(), nullable=False),
            sa.Column("handoffs", sa.BigInteger(), nullable=False),
            sa.Column("shown", sa.BigInteger(), nullable=False),
            sa.Column("suggestion_taps", sa.BigInteger(), nullable=False),
            sa.Column("reached_tap", sa.BigInteger(), nullable=False),
            sa.Column("reached_suggestion", sa.BigInteger(), nullable=False),
            sa.Column("reached_kept", sa.BigInteger(), nullable=False),
            sa.Column("reached_order", sa.BigInteger(), nullable=False),
            sa.Column("suggested", sa.BigInteger(), nullable=False),
            sa.Column("converted", sa.BigInteger(), nullable=False),
            sa.Column("suggested_converted", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store"),
        )
    if _missing("analytics_store_hours"):
        op.create_table(
            "analytics_store_hours",
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("hour", sa.SmallInteger(), nullable=False),
            sa.Column("taps", sa.BigInteger(), nullable=False),
            sa.Column("visits", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("day", "store", "hour"),
        )
    if _missing("analytics_stores"):
        op.create_table(
            "analytics_stores",
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("name", sa.String(length=200), nullable=False),
            sa.Column("time_zone", sa.String(length=64), nullable=False),
            sa.Column("opening_hours", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("store"),
        )
    if _missing("analytics_visit_products"):
        op.create_table(
            "analytics_visit_products",
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("wishlisted", sa.Boolean(), nullable=False),
            sa.Column("reserved", sa.Boolean(), nullable=False),
            sa.Column("ordered", sa.Boolean(), nullable=False),
            sa.PrimaryKeyConstraint("session", "sku"),
        )
    if _missing("analytics_visits"):
        op.create_table(
            "analytics_visits",
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("day", sa.Date(), nullable=False),
            sa.Column("hour", sa.SmallInteger(), nullable=False),
            sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=True),
            sa.Column("viewed", sa.Boolean(), nullable=False),
            sa.Column("suggested", sa.Boolean(), nullable=False),
            sa.Column("kept", sa.Boolean(), nullable=False),
            sa.Column("ordered", sa.Boolean(), nullable=False),
            sa.Column("signed_in", sa.Boolean(), nullable=False),
            sa.Column("consented", sa.Boolean(), nullable=False),
            sa.Column("ended", sa.Boolean(), nullable=False),
            sa.Column("dwell_s", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("session"),
        )
    if _missing("card_visits"):
        op.create_table(
            "card_visits",
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("session"),
        )
    if _missing("change_cursor"):
        op.create_table(
            "change_cursor",
            sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("value", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if _missing("changes"):
        op.create_table(
            "changes",
            sa.Column("cursor", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("shopper", sa.String(length=128), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("fields", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("cursor"),
        )
    if _missing("consents"):
        op.create_table(
            "consents",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("status", sa.String(length=16), nullable=False),
            sa.Column("hlc", sa.String(length=90), nullable=False),
            sa.Column("session", sa.String(length=36), nullable=True),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        )
    if _missing("coupons"):
        op.create_table(
            "coupons",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("offer_id", sa.String(length=48), nullable=False),
            sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("hlc", sa.String(length=90), nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.PrimaryKeyConstraint("profile_key", "offer_id"),
        )
    if _missing("display_names"):
        op.create_table(
            "display_names",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("display_name", sa.String(length=64), nullable=False),
            sa.Column("hlc", sa.String(length=90), nullable=False),
            sa.PrimaryKeyConstraint("profile_key"),
        )
    if _missing("erased"):
        op.create_table(
            "erased",
            sa.Column("shopper_hash", sa.String(length=64), nullable=False),
            sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("shopper_hash"),
        )
    if _missing("events"):
        op.create_table(
            "events",
            sa.Column("event_id", sa.String(length=36), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("kind", sa.String(length=32), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("seq", sa.BigInteger(), nullable=False),
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=True),
            sa.Column("detail", sa.String(length=400), nullable=True),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("event_id"),
        )
    if _missing("live_revision"):
        op.create_table(
            "live_revision",
            sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("value", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("id"),
        )
    if _missing("offers"):
        op.create_table(
            "offers",
            sa.Column("offer_id", sa.String(length=48), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.Column("starts", sa.DateTime(timezone=True), nullable=False),
            sa.Column("ends", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("offer_id"),
        )
    if _missing("order_lines"):
        op.create_table(
            "order_lines",
            sa.Column("order_id", sa.String(length=64), nullable=False),
            sa.Column("line", sa.Integer(), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("size", sa.String(length=32), nullable=False),
            sa.Column("quantity", sa.Integer(), nullable=False),
            sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
            sa.Column("flag", sa.String(length=32), nullable=True),
            sa.PrimaryKeyConstraint("order_id", "line"),
        )
    if _missing("orders"):
        op.create_table(
            "orders",
            sa.Column("order_id", sa.String(length=64), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=True),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("recorded_by", sa.String(length=64), nullable=False),
            sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("order_id"),
        )
    if _missing("phone_sessions"):
        op.create_table(
            "phone_sessions",
            sa.Column("nonce", sa.String(length=32), nullable=False),
            sa.Column("secret_digest", sa.String(length=64), nullable=False),
            sa.Column("form_token", sa.String(length=64), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("shopper", sa.String(length=128), nullable=True),
            sa.Column("opened_at_ms", sa.BigInteger(), nullable=False),
            sa.Column("ends_at_ms", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("nonce"),
            sa.UniqueConstraint("secret_digest"),
        )
    if _missing("preferences"):
        op.create_table(
            "preferences",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("key", sa.String(length=32), nullable=False),
            sa.Column("value", sa.String(length=256), nullable=False),
            sa.Column("hlc", sa.String(length=90), nullable=False),
            sa.PrimaryKeyConstraint("profile_key", "key"),
        )
    if _missing("presence"):
        op.create_table(
            "presence",
            sa.Column("shopper", sa.String(length=128), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=False),
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("since", sa.DateTime(timezone=True), nullable=False),
            sa.Column("until", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("shopper"),
        )
    if _missing("profiles"):
        op.create_table(
            "profiles",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("shopper", sa.String(length=128), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("profile_key"),
        )
    if _missing("push_cursors"):
        op.create_table(
            "push_cursors",
            sa.Column("name", sa.String(length=64), nullable=False),
            sa.Column("cursor", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint("name"),
        )
    if _missing("redemptions"):
        op.create_table(
            "redemptions",
            sa.Column("redemption_id", sa.String(length=36), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("offer_id", sa.String(length=48), nullable=False),
            sa.Column("number", sa.Integer(), nullable=False),
            sa.Column("idempotency_key", sa.String(length=200), nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("redemption_id"),
            sa.UniqueConstraint("profile_key", "offer_id", "idempotency_key", name="redemptions_idempotency_key"),
            sa.UniqueConstraint("profile_key", "offer_id", "number", name="redemptions_number"),
        )
    if _missing("reservations"):
        op.create_table(
            "reservations",
            sa.Column("reservation_id", sa.String(length=32), nullable=False),
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("size", sa.String(length=32), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=True),
            sa.Column("kind", sa.String(length=16), nullable=False),
            sa.Column("state", sa.String(length=16), nullable=False),
            sa.Column("note", sa.String(length=100), nullable=True),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("kiosk", sa.String(length=64), nullable=True),
            sa.Column("session", sa.String(length=36), nullable=True),
            sa.Column("request_id", sa.String(length=32), nullable=True),
            sa.Column("revision", sa.BigInteger(), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("reservation_id"),
            sa.UniqueConstraint("request_id"),
        )
    if _missing("revoked_sessions"):
        op.create_table(
            "revoked_sessions",
            sa.Column("token_digest", sa.String(length=64), nullable=False),
            sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("token_digest"),
        )
    if _missing("session_links"):
        op.create_table(
            "session_links",
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.PrimaryKeyConstraint("session"),
        )
    if _missing("stay_versions"):
        op.create_table(
            "stay_versions",
            sa.Column("shopper", sa.String(length=128), nullable=False),
            sa.Column("session", sa.String(length=36), nullable=False),
            sa.Column("v", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("shopper"),
        )
    if _missing("stock"):
        op.create_table(
            "stock",
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("size", sa.String(length=32), nullable=False),
            sa.Column("units", sa.Integer(), nullable=False),
            sa.Column("held", sa.Integer(), nullable=False),
            sa.Column("revision", sa.BigInteger(), nullable=False),
            sa.CheckConstraint("held >= 0", name="stock_held_not_negative"),
            sa.CheckConstraint("units >= 0", name="stock_units_not_negative"),
            sa.PrimaryKeyConstraint("store", "sku", "size"),
        )
    if _missing("stock_feeds"):
        op.create_table(
            "stock_feeds",
            sa.Column("store", sa.String(length=64), nullable=False),
            sa.Column("version", sa.BigInteger(), nullable=False),
            sa.Column("digest", sa.String(length=64), nullable=False),
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
            sa.PrimaryKeyConstraint("store"),
        )
    if _missing("webhook_queue"):
        op.create_table(
            "webhook_queue",
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("cursor", sa.BigInteger(), nullable=False),
            sa.Column("shopper", sa.String(length=128), nullable=False),
            sa.Column("attempts", sa.Integer(), nullable=False),
            sa.Column("first_tried", sa.DateTime(timezone=True), nullable=True),
            sa.Column("due", sa.DateTime(timezone=True), nullable=False),
            sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("problem", sa.String(length=300), nullable=True),
            sa.PrimaryKeyConstraint("channel", "cursor"),
        )
    if _missing("webhooks"):
        op.create_table(
            "webhooks",
            sa.Column("channel", sa.String(length=64), nullable=False),
            sa.Column("url", sa.String(length=2048), nullable=False),
            sa.Column("secret", sa.String(length=128), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("scanned", sa.BigInteger(), nullable=False),
            sa.Column("delivered", sa.BigInteger(), nullable=False),
            sa.Column("retried", sa.BigInteger(), nullable=False),
            sa.Column("parked", sa.BigInteger(), nullable=False),
            sa.Column("owner", sa.String(length=96), nullable=True),
            sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("channel"),
        )
    if _missing("wishlist"):
        op.create_table(
            "wishlist",
            sa.Column("profile_key", sa.String(length=160), nullable=False),
            sa.Column("sku", sa.String(length=32), nullable=False),
            sa.Column("added", sa.String(length=90), nullable=True),
            sa.Column("removed", sa.String(length=90), nullable=True),
            sa.PrimaryKeyConstraint("profile_key", "sku"),
        )
    _index("analytics_kiosk_spans", "analytics_kiosk_spans_open", ["store", "kiosk", "ended"], unique=False)
    _index("analytics_product_days", "analytics_product_days_by_store", ["store", "day"], unique=False)
    _index("analytics_visits", "analytics_visits_shopper", ["profile_key", "started_at"], unique=False)
    _index("card_visits", "ix_card_visits_profile_key", ["profile_key"], unique=False)
    _index("changes", "ix_changes_shopper", ["shopper"], unique=False)
    _index("consents", "ix_consents_profile_key", ["profile_key"], unique=False)
    _index(
        "events",
        "events_offer_taps",
        ["detail", "store"],
        unique=False,
        postgresql_where=sa.text("kind = 'offer_tap'"),
        sqlite_where=sa.text("kind = 'offer_tap'"),
    )
    _index("events", "eventskiosk_seq", ["store", "kiosk", "seq"], unique=False)
    _index("events", "ix_events_profile_key", ["profile_key"], unique=False)
    _index("events", "ix_events_session", ["session"], unique=False)
    _index("offers", "ix_offers_ends", ["ends"], unique=False)
    _index("orders", "ix_orders_profile_key", ["profile_key"], unique=False)
    _index("phone_sessions", "ix_phone_sessions_ends_at_ms", ["ends_at_ms"], unique=False)
    _index("presence", "ix_presence_until", ["until"], unique=False)
    _index("presence", "presence_kiosk", ["store", "kiosk"], unique=False)
    _index("profiles", "ix_profiles_shopper", ["shopper"], unique=False)
    _index("reservations", "ix_reservations_profile_key", ["profile_key"], unique=False)
    _index("reservations", "ix_reservations_revision", ["revision"], unique=False)
    _index("reservations", "reservations_due", ["state", "expires_at"], unique=False)
    _index("reservations", "reservations_open", ["store", "state", "created_at"], unique=False)
    _index("reservations", "reservations_row", ["store", "sku", "size", "state"], unique=False)
    _index("revoked_sessions", "ix_revoked_sessions_expires_at", ["expires_at"], unique=False)
    _index("session_links", "ix_session_links_profile_key", ["profile_key"], unique=False)
    _index("stock", "ix_stock_revision", ["revision"], unique=False)
    _index("webhook_queue", "webhook_queue_shopper", ["channel", "shopper", "cursor"], unique=False)


def downgrade() -> None:
    # Refused, not done: below the first schema there is only an empty database, HQ's data dropped.
    raise RuntimeError("HQ's first schema has none before it: a downgrade would only drop HQ's data")


def _missing(table: str) -> bool:
    return not sa.inspect(op.get_bind()).has_table(table)


def _index(table: str, name: str, columns: list[str], **options: Any) -> None:
    if name not in {index["name"] for index in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, **options)
