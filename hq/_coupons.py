"""Coupons: offers a shopper saved to their card, and each redemption of one, at HQ.

- **Saving.** A coupon is saved by a ``coupon_save`` event (from a kiosk, or from the API's
  ``PUT .../coupons/{offer}``) merged like the wishlist, by HLC: the earliest save by HLC
  stands, and a later save of the same coupon changes nothing (so saving is idempotent,
  and listed in the change log once). A save is refused (``save_refusal``) for an offer HQ
  does not know, one that ended before the save, or a members' offer saved by a shopper
  who is not a member.
- **Members.** A member is a shopper with an HQ-signed card: one HQ has checked a card of
  (a card visit, kept when HQ verifies the card a kiosk read in a visit). A kiosk's save
  always comes from such a visit; another channel may save a members' offer only for a
  shopper who has had one.
- **Redeeming** is enforced by the database, not by a check-then-write: a redemption is an
  INSERT of the next number (1..per_shopper) that does nothing on a conflict with
  UNIQUE(profile_key, offer_id, number) or UNIQUE(profile_key, offer_id, idempotency_key).
  Two channels redeeming at the same instant thus get different numbers or none; a
  retry with the same Idempotency-Key finds the redemption it made.

Its tables join the store's metadata, so they are created with the store's, and an erase
deletes them with the rest of the profile.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._analytics import Analytics
from hq._changes import ChangeLog, coupon_redeemed_change
from hq._changes import append as append_changes
from hq._offers import offers
from hq._schema import _KEY, card_visits, metadata
from hq.exceptions import Refused
from kiosk_protocol import ONLINE_STORE, Offer, OfferState

coupons = sa.Table(
    "coupons", metadata,
    sa.Column("profile_key", _KEY, primary_key=True),
    sa.Column("offer_id", sa.String(48), primary_key=True),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("hlc", sa.String(90), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
)
redemptions = sa.Table(
    "redemptions", metadata,
    sa.Column("redemption_id", sa.String(36), primary_key=True),
    sa.Column("profile_key", _KEY, nullable=False),
    sa.Column("offer_id", sa.String(48), nullable=False),
    sa.Column("number", sa.Integer, nullable=False),  # 1..the offer's per_shopper
    sa.Column("idempotency_key", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("redeemed_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("profile_key", "offer_id", "number", name="redemptions_number"),
    sa.UniqueConstraint("profile_key", "offer_id", "idempotency_key", name="redemptions_idempotency_key"),
)

# What an erase deletes by profile key, besides the store's own tables.
COUPON_TABLES = (coupons, redemptions)


class CouponRefused(Refused):
    """A coupon could not be saved or redeemed."""


@dataclass(frozen=True)
class Coupon:
    """A saved coupon, with its offer (None when HQ no longer knows it) and how many redemptions it used."""

    offer_id: str
    offer: Offer | None
    saved_at: datetime
    channel: str
    used: int

    @property
    def left(self) -> int:
        return max(0, self.offer.per_shopper - self.used) if self.offer is not None else 0

    def state(self, now: datetime) -> str:
        """``scheduled``, ``running``, ``ended``, or ``used`` once every redemption is taken."""
        if self.offer is None:
            return OfferState.ENDED.value
        state = self.offer.state(now)
        return "used" if state is not OfferState.ENDED and self.left == 0 else state.value


@dataclass(frozen=True)
class Redemption:
    """One redemption of a coupon."""

    redemption_id: str
    offer_id: str
    number: int
    channel: str
    redeemed_at: datetime
    left: int  # redemptions still left of the coupon after this one


def save_refusal(offer: Offer | None, offer_id: str, at: datetime, member: bool) -> CouponRefused | None:
    """Why ``offer`` may not be saved as a coupon at ``at`` (None: it may)."""
    if offer is None:
        return CouponRefused(404, "unknown_offer", f"HQ knows no offer {offer_id!r}")
    if offer.state(at) is OfferState.ENDED:
        return CouponRefused(410, "offer_ended", f"offer {offer_id} ended on {offer.ends.isoformat()}")
    if offer.for_members() and not member:
        return CouponRefused(403, "members_only", f"offer {offer_id} is for members: shoppers whose HQ-signed card "
                             "HQ has checked at a kiosk")
    return None


def offer_in(db: sa.Connection, offer_id: str) -> Offer | None:
    """The offer ``offer_id`` as ``db`` sees it now."""
    body = db.scalar(sa.select(offers.c.body).where(offers.c.offer_id == offer_id))
    return None if body is None else Offer.model_validate_json(body)


def is_member(db: sa.Connection, key: str) -> bool:
    """Whether HQ has checked a card of the shopper of profile ``key`` (their card is HQ-signed)."""
    return db.scalar(sa.select(card_visits.c.session).where(card_visits.c.profile_key == key).limit(1)) is not None


class Coupons:
    """Saved coupons and their redemptions (``ProfileStore.coupons``)."""

    def __init__(self, engine: sa.Engine, changes: ChangeLog,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), analytics: Analytics | None = None) -> None:
        self._engine = engine
        self._analytics = analytics  # redemptions by offer, store and day
        self._changes = changes  # a redemption is a change: written through the log, which wakes its followers
        self._clock = clock
        self._insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert

    def save_in(self, db: sa.Connection, key: str, offer_id: str, hlc: str, channel: str, at: datetime) -> bool:
        """Merge one save into ``db``'s transaction; whether it won (the earliest save by HLC stands)."""
        statement = self._insert(coupons).values(profile_key=key, offer_id=offer_id, saved_at=at, hlc=hlc,
                                                 channel=channel)
        written = db.execute(statement.on_conflict_do_update(
            index_elements=["profile_key", "offer_id"],
            set_={name: statement.excluded[name] for name in ("saved_at", "hlc", "channel")},
            where=statement.excluded.hlc < coupons.c.hlc,
        ).returning(coupons.c.offer_id)).first()
        return written is not None

    def member(self, key: str) -> bool:
        with self._engine.connect() as db:
            return is_member(db, key)

    def of(self, key: str) -> list[Coupon]:
        """The coupons of profile ``key``, oldest saved first."""
        used = (sa.select(redemptions.c.offer_id, sa.func.count().label("used"))
                .where(redemptions.c.profile_key == key).group_by(redemptions.c.offer_id).subquery())
        query = (sa.select(coupons.c.offer_id, coupons.c.saved_at, coupons.c.channel, offers.c.body,
                           sa.func.coalesce(used.c.used, 0))
                 .select_from(coupons.outerjoin(offers, offers.c.offer_id == coupons.c.offer_id)
                              .outerjoin(used, used.c.offer_id == coupons.c.offer_id))
                 .where(coupons.c.profile_key == key).order_by(coupons.c.saved_at, coupons.c.offer_id))
        with self._engine.connect() as db:
            return [Coupon(offer_id, Offer.model_validate_json(body) if body else None, _utc(saved_at), channel,
                           int(count)) for offer_id, saved_at, channel, body, count in db.execute(query)]

    def left_of(self, key: str) -> list[str]:
        """The offer ids of the coupons of ``key`` with redemptions left and not ended (the kiosk's welcome)."""
        now = self._clock()
        return [c.offer_id for c in self.of(key) if c.left > 0 and c.state(now) != OfferState.ENDED.value]

    def redemptions_of(self, key: str) -> list[dict[str, Any]]:
        """Every redemption of profile ``key``, as exported."""
        query = (sa.select(redemptions.c.redemption_id, redemptions.c.offer_id, redemptions.c.number,
                           redemptions.c.channel, redemptions.c.redeemed_at)
                 .where(redemptions.c.profile_key == key).order_by(redemptions.c.redeemed_at, redemptions.c.number))
        with self._engine.connect() as db:
            return [{**row._mapping, "redeemed_at": _utc(row.redeemed_at)} for row in db.execute(query)]

    def redeem(self, shopper: str, key: str, offer_id: str, idempotency_key: str, channel: str,
               where: str = ONLINE_STORE) -> Redemption:
        """Redeem ``shopper``'s coupon for ``offer_id`` once, or give back the redemption made with this key.

        ``where``: the store it was redeemed at (``online`` for the web shop and the app).

        Raises:
            CouponRefused: ``no_coupon`` (404), ``offer_not_started`` (409), ``offer_ended`` (410),
                ``already_redeemed`` (409).
        """
        now = self._clock()
        with self._changes.writing() as db:
            earlier = self._by_key(db, key, offer_id, idempotency_key)
            if earlier is not None:  # a retry: the same answer, whatever happened since
                return earlier
            if db.scalar(sa.select(coupons.c.offer_id).where(coupons.c.profile_key == key,
                                                              coupons.c.offer_id == offer_id)) is None:
                raise CouponRefused(404, "no_coupon", f"the shopper has not saved offer {offer_id!r} as a coupon")
            offer = offer_in(db, offer_id)
            state = offer.state(now) if offer is not None else OfferState.ENDED
            if state is OfferState.SCHEDULED and offer is not None:
                raise CouponRefused(409, "offer_not_started", f"offer {offer_id} starts on {offer.starts.isoformat()}")
            if state is OfferState.ENDED or offer is None:
                ended = f" on {offer.ends.isoformat()}" if offer is not None else ""
                raise CouponRefused(410, "offer_ended", f"offer {offer_id} ended{ended}")
            taken = int(db.scalar(sa.select(sa.func.count()).select_from(redemptions).where(
                redemptions.c.profile_key == key, redemptions.c.offer_id == offer_id)) or 0)
            redemption_id = str(uuid.uuid4())
            for number in range(taken + 1, offer.per_shopper + 1):
                # Waits for a rival writing the same number (or key) to end, then does nothing if it committed.
                inserted = db.execute(self._insert(redemptions).values(
                    redemption_id=redemption_id, profile_key=key, offer_id=offer_id, number=number,
                    idempotency_key=idempotency_key, channel=channel, redeemed_at=now,
                ).on_conflict_do_nothing().returning(redemptions.c.redemption_id)).first()
                if inserted is not None:
                    left = offer.per_shopper - number
                    if self._analytics is not None:
                        self._analytics.redeemed_in(db, where, offer_id, now)
                    append_changes(db, [coupon_redeemed_change(shopper, channel, offer_id, redemption_id, left, now)])
                    return Redemption(redemption_id, offer_id, number, channel, now, left)
            rival = self._by_key(db, key, offer_id, idempotency_key)  # the same key, redeemed at the same instant
            if rival is not None:
                return rival
        raise CouponRefused(409, "already_redeemed", f"the coupon for offer {offer_id} is redeemed "
                            f"{offer.per_shopper} time(s), as many as it allows")

    def _by_key(self, db: sa.Connection, key: str, offer_id: str, idempotency_key: str) -> Redemption | None:
        row = db.execute(sa.select(redemptions).where(
            redemptions.c.profile_key == key, redemptions.c.offer_id == offer_id,
            redemptions.c.idempotency_key == idempotency_key)).first()
        if row is None:
            return None
        offer = offer_in(db, offer_id)
        left = max(0, offer.per_shopper - row.number) if offer is not None else 0
        return Redemption(row.redemption_id, offer_id, row.number, row.channel, _utc(row.redeemed_at), left)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
