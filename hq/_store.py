"""HQ's profile store: every event stored once by id, under the shopper's profile.

A profile holds its history (every event, stored once by event id; a product viewed is
a product tag tapped or a suggestion touched on a kiosk's screen, ``views``, each kept
under its own kind so that analytics can count them apart), its wishlist, preferences,
consent, display name and coupons; how changes from different channels merge into them
is ``_merge``'s.

Every change that changes a profile is also appended to the change log (``_changes``) in
the same transaction, for every channel to follow (or to have delivered: ``_webhooks``).

An anonymous session joins a shopper's profile only when that shopper grants consent
at the kiosk in that session: then its earlier views move to the profile, and later
anonymous views of the session follow. Erasing a profile deletes all of it and leaves
only a salted hash of the shopper id, so that events still on their way from kiosks
cannot bring it back.

A kiosk's change to a profile is taken only from a visit in which that shopper's card
was read: HQ checks the card once per visit and keeps the proof as a card visit (the
session, the kiosk, the shopper), so later events of the visit cost one lookup.

The database is named by URL: ``sqlite:///path.db`` (the default) or
``postgresql+psycopg://...`` when it grows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._alarm_log import AlarmLog
from hq._analytics import Analytics
from hq._changes import ChangeLog, erase_change, event_changes, forget, joined_changes, start_counter
from hq._changes import append as append_changes
from hq._coupons import COUPON_TABLES, Coupon, Coupons, coupons
from hq._enrolment import Enrolments
from hq._merge import ProfileMerge
from hq._migrations import prepare as prepare_schema
from hq._offers import OfferBook
from hq._order_models import exported_order
from hq._orders import Orders
from hq._presence import Presence
from hq._reservations import Reservation, Reservations, exported_reservation
from hq._revisions import start_counter as start_revisions
from hq._rollouts import RolloutLog
from hq._schema import (
    PROFILE_TABLES,
    card_visits,
    consents,
    display_names,
    erased,
    events,
    preferences,
    profiles,
    revoked_sessions,
    session_links,
    wishlist,
)
from hq._stock import Stock
from hq._uptime import UptimeLog
from hq._webhooks import Webhooks
from kiosk_protocol import ONLINE_STORE, VIEW_KINDS, ConsentStatus, EventKind, TapEvent

_VIEW_KINDS = frozenset(kind.value for kind in VIEW_KINDS)
# A stored ``suggestion_shown`` keeps the product in view as its ``sku`` and the SKUs shown as its
# ``detail``, joined by this (no SKU holds one); a ``visit_end`` keeps its seconds as ``detail``.
SHOWN_SEPARATOR = " "


def _sqlite_wal(connection: Any, _record: Any) -> None:
    # WAL lets readers (the profile API, the demo) read while ingest writes; FULL keeps a
    # committed event on disk before HQ acknowledges it to the broker.
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")


def profile_key(event: TapEvent) -> str:
    """Whose profile an event belongs to: the shopper's, or its anonymous session's.

    A kiosk id is never an identity key.
    """
    return shopper_key(event.shopper) if event.shopper else f"session:{event.session}"


def shopper_key(shopper: str) -> str:
    """The profile key of a known shopper."""
    return f"shopper:{shopper}"


@dataclass(frozen=True)
class StoredEvent:
    """An event as HQ holds it."""

    event_id: str
    profile_key: str
    kind: str
    store: str
    kiosk: str
    sku: str | None
    at: datetime
    detail: str | None = None  # as in the events table

    @property
    def is_view(self) -> bool:
        """Whether the shopper looked at ``sku`` (a tag tapped or a suggestion touched)."""
        return self.kind in _VIEW_KINDS


@dataclass(frozen=True)
class CardVisit:
    """A visit in which HQ has checked the card of ``shopper``, read at ``store``/``kiosk``."""

    session: str
    store: str
    kiosk: str
    shopper: str


@dataclass(frozen=True)
class Profile:
    """What every channel reads of a shopper."""

    shopper: str
    consent: ConsentStatus | None
    history: list[StoredEvent] = field(default_factory=list)
    wishlist: list[str] = field(default_factory=list)
    preferences: dict[str, str] = field(default_factory=dict)
    display_name: str | None = None
    coupons: list[Coupon] = field(default_factory=list)
    reservations: list[Reservation] = field(default_factory=list)  # the open ones, newest first

    @property
    def views(self) -> list[StoredEvent]:
        """The products the shopper looked at, oldest first, whichever way they came to them."""
        return [event for event in self.history if event.is_view]


class ProfileStore:
    """Profiles and their events in a SQL database."""

    def __init__(self, url: str, erase_salt: str = "nfc-kiosk", roll_ups: bool = True) -> None:
        self.url = url
        self.dropped_for_erased = 0
        self._salt = erase_salt
        self._engine = _engine(url)
        with self._engine.begin() as db:
            prepare_schema(db)  # made if empty, else refused unless at this release's revision
            start_counter(db)
            start_revisions(db)
        self.changes = ChangeLog(self._engine)
        self.webhooks = Webhooks(self._engine, self.changes)  # their tables are created with the rest
        self.presence = Presence(self._engine)  # who stands at which kiosk, for the live push
        self.offers = OfferBook(self._engine)
        self.analytics = Analytics(self._engine, roll_ups)  # the roll-ups, kept with what they count (unless off)
        self.coupons = Coupons(self._engine, self.changes, analytics=self.analytics)
        self.merge = ProfileMerge(self._engine, self.coupons)
        self.uptime = UptimeLog(self._engine)  # the kiosks' online spans, from the fleet view
        self.alarms = AlarmLog(self._engine)  # raised and cleared, and the notices owed to each store's routes
        self.enrolments = Enrolments(self._engine)  # new kiosks waiting for staff to approve their code
        self.rollouts = RolloutLog(self._engine)  # kiosk software releases going out, a stage at a time
        self.orders = Orders(self._engine, self.changes, analytics=self.analytics)
        self.stock = Stock(self._engine, committed=self.changes.written.wake)
        self.reservations = Reservations(self._engine, self.changes, self.orders, self.stock, self._hash,
                                         analytics=self.analytics)
        self._insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert

    @property
    def engine(self) -> sa.Engine:
        """The database, for HQ's tables kept beside the profiles (phone sessions)."""
        return self._engine

    def record(self, event: TapEvent) -> bool:
        """Store an event once; returns False if its id was already stored."""
        return bool(self.record_many([event]))

    def record_many(self, batch: Sequence[TapEvent], new_visits: Sequence[CardVisit] = ()) -> set[str]:
        """Store a batch of events in one transaction; returns the ids that were new.

        Events whose id is already stored are skipped, so redelivered or resent events
        are never counted twice; events of an erased shopper are dropped and counted.
        ``new_visits`` (card visits just checked for these events) are kept with them.
        """
        if not batch:
            return set()
        now = datetime.now(UTC)
        with self.changes.writing() as db:
            batch = _first_of_each(self._without_erased(db, batch))  # each id once: the first is stored
            shoppers = {e.shopper for e in batch}
            self._upsert(db, card_visits, [{"session": v.session, "store": v.store, "kiosk": v.kiosk,
                                            "profile_key": shopper_key(v.shopper), "verified_at": now}
                                           for v in sorted(new_visits, key=lambda v: v.session)
                                           if v.shopper in shoppers], ["session"], set())
            granted = {str(e.session): shopper_key(e.shopper) for e in batch
                       if e.kind is EventKind.CONSENT and e.consent is ConsentStatus.GRANTED and e.shopper}
            self._upsert(db, session_links, [{"session": s, "profile_key": k} for s, k in sorted(granted.items())],
                         ["session"], {"profile_key"})
            keys = self._profile_keys(db, batch)
            self._upsert(db, profiles, [{"profile_key": key, "shopper": key.removeprefix("shopper:")
                                         if key.startswith("shopper:") else None, "created_at": now,
                                         "last_seen": now} for key in sorted(set(keys))], ["profile_key"],
                         {"last_seen"})  # sorted: concurrent workers lock rows in one order, so never deadlock
            inserted = set(db.execute(
                self._insert(events).on_conflict_do_nothing(index_elements=["event_id"]).returning(events.c.event_id),
                [_event_row(event, key, now) for event, key in zip(batch, keys, strict=True)],
            ).scalars()) if batch else set()
            new = [(e, k) for e, k in zip(batch, keys, strict=True) if str(e.event_id) in inserted]
            joined: list[dict[str, Any]] = []
            for session, key in granted.items():  # the session's earlier anonymous views join the profile
                joined += joined_changes(key.removeprefix("shopper:"), db.execute(
                    events.update().where(events.c.profile_key == f"session:{session}").values(profile_key=key)
                    .returning(events.c.kind, events.c.store, events.c.kiosk, events.c.sku, events.c.detail,
                               events.c.at)))
            won = self.merge.merge(db, new, now)
            self.analytics.record_in(db, new, granted)
            append_changes(db, joined + event_changes([(e, k.removeprefix("shopper:")) for e, k in new
                                                       if k.startswith("shopper:")], won))  # last: see append
        return inserted

    def card_visits(self, sessions: Collection[str]) -> dict[str, CardVisit]:
        """The card visits among ``sessions``, by session (one query)."""
        if not sessions:
            return {}
        query = sa.select(card_visits.c.session, card_visits.c.store, card_visits.c.kiosk,
                          card_visits.c.profile_key).where(card_visits.c.session.in_(sorted(sessions)))
        with self._engine.connect() as db:
            return {session: CardVisit(session, store, kiosk, key.removeprefix("shopper:"))
                    for session, store, kiosk, key in db.execute(query)}

    def has_event(self, event_id: str) -> bool:
        """Whether an event with this id is stored."""
        with self._engine.connect() as db:
            return db.execute(sa.select(events.c.event_id).where(events.c.event_id == event_id)).first() is not None

    def history(self, key: str, limit: int | None = None) -> list[StoredEvent]:
        """A profile's events, oldest first (the newest ``limit`` when given)."""
        query = (sa.select(events.c.event_id, events.c.profile_key, events.c.kind, events.c.store,
                           events.c.kiosk, events.c.sku, events.c.at, events.c.detail)
                 .where(_owned_by(key)).order_by(events.c.at.desc(), events.c.seq.desc()).limit(limit))
        with self._engine.connect() as db:
            return [StoredEvent(*row) for row in reversed(db.execute(query).all())]

    def profile(self, shopper: str, history_limit: int | None = 50) -> Profile:
        """A shopper's profile as every channel sees it."""
        key = shopper_key(shopper)
        with self._engine.connect() as db:
            items = db.execute(sa.select(wishlist.c.sku, wishlist.c.added, wishlist.c.removed)
                               .where(wishlist.c.profile_key == key).order_by(wishlist.c.added)).all()
            prefs = db.execute(sa.select(preferences.c.key, preferences.c.value)
                               .where(preferences.c.profile_key == key)).all()
            consent = db.execute(sa.select(consents.c.status).where(consents.c.profile_key == key)
                                 .order_by(consents.c.hlc.desc()).limit(1)).scalar()
        return Profile(
            shopper=shopper,
            consent=ConsentStatus(consent) if consent else None,
            history=self.history(key, history_limit),
            wishlist=[sku for sku, added, removed in items if added and (removed is None or added > removed)],
            preferences=dict(prefs),
            display_name=self.display_name_of(shopper),
            coupons=self.coupons.of(key),
            reservations=self.reservations.of(key, open_only=True),
        )

    def display_name_of(self, shopper: str) -> str | None:
        """The name ``shopper`` asked to be greeted by, or None when they gave none."""
        with self._engine.connect() as db:
            return db.execute(sa.select(display_names.c.display_name)
                              .where(display_names.c.profile_key == shopper_key(shopper))).scalar()

    def export(self, shopper: str) -> dict[str, Any]:
        """Everything HQ holds about a shopper, as JSON-ready data."""
        key = shopper_key(shopper)
        profile = self.profile(shopper, history_limit=None)
        with self._engine.connect() as db:
            consent_log = [dict(row._mapping) for row in db.execute(
                sa.select(consents.c.status, consents.c.hlc, consents.c.channel, consents.c.at)
                .where(consents.c.profile_key == key).order_by(consents.c.hlc))]
            sessions = list(db.execute(sa.select(session_links.c.session)
                                       .where(session_links.c.profile_key == key)).scalars())
            visits = [dict(row._mapping) for row in db.execute(
                sa.select(card_visits.c.session, card_visits.c.store, card_visits.c.kiosk, card_visits.c.verified_at)
                .where(card_visits.c.profile_key == key).order_by(card_visits.c.verified_at))]
        return {
            "shopper": shopper,
            "consent": profile.consent.value if profile.consent else None,
            "consent_log": [{**c, "at": c["at"].isoformat()} for c in consent_log],
            "linked_sessions": sessions,
            "card_visits": [{**v, "verified_at": v["verified_at"].isoformat()} for v in visits],
            "wishlist": profile.wishlist,
            "preferences": profile.preferences,
            "display_name": profile.display_name,
            "history": [{**asdict(e), "at": e.at.isoformat()} for e in profile.history],
            "coupons": [{"offer": c.offer_id, "saved_at": c.saved_at.isoformat(), "channel": c.channel}
                        for c in profile.coupons],
            "redemptions": [{**r, "redeemed_at": r["redeemed_at"].isoformat()}
                            for r in self.coupons.redemptions_of(key)],
            "orders": [exported_order(order) for order in self.orders.of(key)],
            "reservations": [exported_reservation(r) for r in self.reservations.of(key)],
        }

    def erase(self, shopper: str, by: str = "hq") -> int:
        """Delete everything about a shopper; returns how many events went.

        The erase is a change in the log (once, made by channel ``by``), and the shopper's
        earlier changes leave the log with the rest.
        """
        key, now = shopper_key(shopper), datetime.now(UTC)
        with self.changes.writing() as db:
            deleted = db.execute(events.delete().where(_owned_by(key))).rowcount
            for table in (*PROFILE_TABLES, *COUPON_TABLES):
                db.execute(table.delete().where(table.c.profile_key == key))
            db.execute(profiles.delete().where(profiles.c.profile_key == key))
            self.orders.unlink_in(db, key)
            self.reservations.unlink_in(db, key)
            self.analytics.forget_in(db, key)
            first = db.execute(self._insert(erased).values(shopper_hash=self._hash(shopper), erased_at=now)
                               .on_conflict_do_nothing(index_elements=["shopper_hash"])
                               .returning(erased.c.shopper_hash)).first()
            forget(db, shopper)
            if first is not None or deleted:
                append_changes(db, [erase_change(shopper, ONLINE_STORE, by, now)])
        return int(deleted)

    def has_profile(self, shopper: str) -> bool:
        """Whether HQ holds a profile for this shopper."""
        with self._engine.connect() as db:
            return db.execute(sa.select(profiles.c.profile_key)
                              .where(profiles.c.profile_key == shopper_key(shopper))).first() is not None

    def is_erased(self, shopper: str) -> bool:
        """Whether this shopper's profile was erased (HQ then drops their events)."""
        with self._engine.connect() as db:
            return self._is_erased_in(db, shopper)

    def _is_erased_in(self, db: sa.Connection, shopper: str) -> bool:
        return db.execute(_ERASED, {"shopper_hash": self._hash(shopper)}).first() is not None

    def revoke_session(self, token_digest: str, expires_at: datetime) -> None:
        """Keep a signed-out sign-in until it would have expired (and forget expired ones)."""
        with self._engine.begin() as db:
            db.execute(revoked_sessions.delete().where(revoked_sessions.c.expires_at < datetime.now(UTC)))
            self._upsert(db, revoked_sessions, [{"token_digest": token_digest, "expires_at": expires_at}],
                         ["token_digest"], set())

    def is_session_revoked(self, token_digest: str) -> bool:
        """Whether a dashboard sign-in was ended by signing out."""
        with self._engine.connect() as db:
            return db.execute(sa.select(revoked_sessions.c.token_digest)
                              .where(revoked_sessions.c.token_digest == token_digest)).first() is not None

    def newest_hlc(self, shopper: str) -> str | None:
        """The newest HLC of any change to a shopper's wishlist, preferences, display name, consent or coupons."""
        key = shopper_key(shopper)
        stamps = sa.union_all(
            sa.select(sa.func.max(wishlist.c.added).label("hlc")).where(wishlist.c.profile_key == key),
            sa.select(sa.func.max(wishlist.c.removed)).where(wishlist.c.profile_key == key),
            sa.select(sa.func.max(preferences.c.hlc)).where(preferences.c.profile_key == key),
            sa.select(sa.func.max(display_names.c.hlc)).where(display_names.c.profile_key == key),
            sa.select(sa.func.max(consents.c.hlc)).where(consents.c.profile_key == key),
            sa.select(sa.func.max(coupons.c.hlc)).where(coupons.c.profile_key == key),
        ).subquery()
        with self._engine.connect() as db:
            return db.execute(sa.select(sa.func.max(stamps.c.hlc))).scalar()

    def highest_seqs(self, kiosks: Collection[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The highest event sequence stored for each (store, kiosk) that has any."""
        if not kiosks:
            return {}
        query = (sa.select(events.c.store, events.c.kiosk, sa.func.max(events.c.seq))
                 .where(sa.tuple_(events.c.store, events.c.kiosk).in_(sorted(kiosks)))
                 .group_by(events.c.store, events.c.kiosk))
        with self._engine.connect() as db:
            return {(store, kiosk): int(seq) for store, kiosk, seq in db.execute(query)}

    def ping(self) -> None:
        """Check that the database answers (raises SQLAlchemyError when it does not)."""
        with self._engine.connect() as db:
            db.execute(sa.select(1))

    def event_count(self) -> int:
        """How many events are stored in all."""
        with self._engine.connect() as db:
            return int(db.execute(sa.select(sa.func.count()).select_from(events)).scalar_one())

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def _without_erased(self, db: sa.Connection, batch: Sequence[TapEvent]) -> list[TapEvent]:
        hashes = {self._hash(e.shopper) for e in batch if e.shopper}
        if not hashes:
            return list(batch)
        gone = set(db.execute(sa.select(erased.c.shopper_hash).where(erased.c.shopper_hash.in_(hashes))).scalars())
        kept = [e for e in batch if not (e.shopper and self._hash(e.shopper) in gone)]
        self.dropped_for_erased += len(batch) - len(kept)
        return kept

    def _profile_keys(self, db: sa.Connection, batch: Sequence[TapEvent]) -> list[str]:
        anonymous = {str(e.session) for e in batch if not e.shopper}
        linked = dict(db.execute(sa.select(session_links.c.session, session_links.c.profile_key)
                                 .where(session_links.c.session.in_(anonymous))).all()) if anonymous else {}
        return [linked.get(str(e.session), profile_key(e)) if not e.shopper else profile_key(e) for e in batch]

    def _upsert(self, db: sa.Connection, table: sa.Table, rows: list[dict[str, Any]], keys: list[str],
                update: set[str]) -> None:
        if not rows:
            return
        statement = self._insert(table)
        if update:
            statement = statement.on_conflict_do_update(index_elements=keys,
                                                        set_={c: statement.excluded[c] for c in update})
        else:
            statement = statement.on_conflict_do_nothing(index_elements=keys)
        db.execute(statement, rows)

    def _hash(self, shopper: str) -> str:
        return hashlib.sha256(f"{self._salt}:{shopper}".encode()).hexdigest()


# Connections HQ keeps open to PostgreSQL: one per API worker thread (anyio's 40) and its own
# followers and workers, so a busy moment neither waits for nor opens and closes connections.
PG_POOL, PG_OVERFLOW = 48, 16


def _engine(url: str) -> sa.Engine:
    """HQ's engine. On PostgreSQL no ping before each use (a round trip on every request): a
    connection the database dropped fails its one statement, which SQLAlchemy takes for a
    disconnect and renews the whole pool; the API answers that one 503 and writers retry."""
    if sa.make_url(url).get_backend_name() != "postgresql":
        engine = sa.create_engine(url, pool_pre_ping=True)
        sa.event.listen(engine, "connect", _sqlite_wal)
        return engine
    return sa.create_engine(url, pool_size=PG_POOL, max_overflow=PG_OVERFLOW, pool_recycle=3600)


_ERASED = sa.select(erased.c.shopper_hash).where(erased.c.shopper_hash == sa.bindparam("shopper_hash"))


def _owned_by(key: str) -> sa.ColumnElement[bool]:
    """Events of a profile, with those of its linked sessions that are not moved yet.

    With several ingest workers, an anonymous view can be committed under its session
    just after another worker has moved that session's events at consent; reading
    through the links keeps such a view in the profile all the same.
    """
    linked = sa.select(sa.literal("session:") + session_links.c.session).where(session_links.c.profile_key == key)
    return sa.or_(events.c.profile_key == key, events.c.profile_key.in_(linked))


def _first_of_each(batch: Sequence[TapEvent]) -> list[TapEvent]:
    first: dict[str, TapEvent] = {}
    for event in batch:
        first.setdefault(str(event.event_id), event)
    return list(first.values())


def _event_row(event: TapEvent, key: str, now: datetime) -> dict[str, Any]:
    """The events table's row: what the event says beyond its product goes in ``detail``
    (for the version 3 kinds: the SKUs shown, a visit's seconds)."""
    sku, detail = event.sku, (event.consent.value if event.consent else None) or (
        f"{event.key}={event.value}" if event.key else None) or event.beside or event.display_name or event.offer
    if event.shown is not None:  # the product in view, and the suggestions shown beside it in screen order
        sku, detail = event.beside, SHOWN_SEPARATOR.join(event.shown)
    elif event.dwell_s is not None:
        detail = str(event.dwell_s)
    return {"event_id": str(event.event_id), "profile_key": key, "kind": event.kind.value, "store": event.store,
            "kiosk": event.kiosk, "seq": event.seq, "session": str(event.session), "sku": sku,
            "detail": detail, "at": event.at, "received_at": now}


def shown_skus(detail: str | None) -> tuple[str, ...]:
    """The suggestions a stored ``suggestion_shown`` put on screen, in screen order (its row's ``detail``)."""
    return tuple(detail.split(SHOWN_SEPARATOR)) if detail else ()
