"""Phone sessions: a hand-off link exchanged, once, for a session on the phone that opened it.

Kept in the profile database beside the profiles, so every HQ process sees the same
uses: the first phone to open a link inserts the row of its nonce, in one transaction
with the session it gets; any later attempt with the same link finds the nonce taken.
The phone carries only a random secret (its cookie); the row holds the digest of it,
the visit (store, kiosk, session), the shopper when the link named one, and when the
session ends. Rows go once their session has ended: by then their link has long
expired, so its nonce need not be kept.
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from hq._handoff import HandoffClaims
from hq._schema import phone_sessions
from hq._store import ProfileStore, events
from hq.exceptions import HandoffRefused, LinkRefusal
from kiosk_protocol import VIEW_KINDS

PHONE_SESSION_S = 2 * 3600  # a visit continued on a phone stays open this long after the link was opened
MAX_TAPS = 50

_VIEWS = sorted(kind.value for kind in VIEW_KINDS)


@dataclass(frozen=True)
class PhoneVisit:
    """A visit as the phone that opened its link may see it."""

    nonce: str
    store: str
    kiosk: str
    session: uuid.UUID
    shopper: str | None  # only when the link named one
    form_token: str  # what this phone's forms must carry (against cross-site posts)
    ends_at: float  # seconds since the epoch


class PhoneSessions:
    """Phone sessions in ``store``'s database, on ``clock`` (seconds since the epoch)."""

    def __init__(self, store: ProfileStore, clock: Callable[[], float] = time.time,
                 lifetime_s: int = PHONE_SESSION_S) -> None:
        self._engine = store.engine
        self._clock, self.lifetime_s = clock, lifetime_s
        self._insert = postgresql.insert if self._engine.dialect.name == "postgresql" else sqlite.insert

    def exchange(self, claims: HandoffClaims) -> tuple[str, PhoneVisit]:
        """Take the link of ``claims`` for a new phone session; returns the phone's secret and its visit.

        Raises:
            HandoffRefused: the link has expired, or another phone has taken it (nothing is changed).
        """
        now = self._clock()
        if claims.expires_at <= now:
            raise HandoffRefused(LinkRefusal.EXPIRED, "the link has expired")
        secret = secrets.token_urlsafe(32)
        visit = PhoneVisit(claims.nonce, claims.store, claims.kiosk, claims.session, claims.shopper,
                           secrets.token_urlsafe(24), now + self.lifetime_s)
        row = {"nonce": visit.nonce, "secret_digest": _digest(secret), "form_token": visit.form_token,
               "store": visit.store, "kiosk": visit.kiosk, "session": str(visit.session), "shopper": visit.shopper,
               "opened_at_ms": int(now * 1000), "ends_at_ms": int(visit.ends_at * 1000)}
        with self._engine.begin() as db:
            db.execute(phone_sessions.delete().where(phone_sessions.c.ends_at_ms < int(now * 1000)))
            taken = db.execute(self._insert(phone_sessions).values(**row).on_conflict_do_nothing(
                index_elements=["nonce"]).returning(phone_sessions.c.nonce)).first()
        if taken is None:
            raise HandoffRefused(LinkRefusal.USED, "the link was already opened on another phone")
        return secret, visit

    def visit(self, secret: str | None) -> PhoneVisit | None:
        """The visit of the phone carrying ``secret``, or None: no session, a forged one, or one that has ended."""
        if not secret or len(secret) > 128:
            return None
        query = sa.select(phone_sessions).where(phone_sessions.c.secret_digest == _digest(secret),
                                                phone_sessions.c.ends_at_ms > int(self._clock() * 1000))
        with self._engine.connect() as db:
            row = db.execute(query).first()
        if row is None:
            return None
        return PhoneVisit(row.nonce, row.store, row.kiosk, uuid.UUID(row.session), row.shopper, row.form_token,
                          row.ends_at_ms / 1000)

    def taps(self, visit: PhoneVisit, limit: int = MAX_TAPS) -> list[str]:
        """The products looked at in ``visit`` at its kiosk, newest first, each once.

        By the visit's session at its own store and kiosk: whatever HQ stored under it
        (anonymous views by session, a consenting shopper's under their profile).
        """
        query = (sa.select(events.c.sku).where(events.c.session == str(visit.session),
                                               events.c.store == visit.store, events.c.kiosk == visit.kiosk,
                                               events.c.kind.in_(_VIEWS), events.c.sku.is_not(None))
                 .order_by(events.c.at.desc(), events.c.seq.desc()).limit(limit * 4))
        with self._engine.connect() as db:
            skus = [sku for (sku,) in db.execute(query)]
        return list(dict.fromkeys(skus))[:limit]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
