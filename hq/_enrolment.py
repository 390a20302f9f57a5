"""Enrolling a new kiosk without typing a secret into it.

1. The kiosk asks HQ for an enrolment (``begin``) over HTTPS, HQ's certificate pinned in its
   install; it gets a short code to show on its screen and a token only it holds.
2. Staff read the code off the screen and approve it on the dashboard, choosing the store
   and the kiosk's id (``approve``): HQ gives that kiosk its own broker login
   (``BrokerSecurity.provision_kiosk``) and keeps the kiosk's settings for it.
3. The kiosk, asking with its token (``collect``), gets them once: its broker URL with its
   password, the broker's CA, HQ's public key, its store, id and file server. HQ forgets
   them as they go.

A code alone yields nothing: it is what staff type, the token is what collects, and the
token never leaves the kiosk. Codes expire after ``ENROL_MINUTES``; an unapproved or
expired enrolment never yields a credential, and one is collected once.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hq._provision import BrokerSecurity
from hq._schema import metadata
from hq.exceptions import ApiRefusal

ENROL_MINUTES = 15
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O nor 1/I to misread off a screen
CODE_LENGTH = 8  # 40 bits: guessing one of the few codes waiting is hopeless within the failure limit

enrolments = sa.Table(
    "enrolments", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("code", sa.String(CODE_LENGTH), nullable=False, unique=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),
    sa.Column("store", sa.String(64), nullable=True),
    sa.Column("kiosk", sa.String(64), nullable=True),
    sa.Column("settings", sa.Text, nullable=True),  # the kiosk's settings, its password in them, until collected
)


class EnrolmentState(enum.Enum):
    PENDING = "pending"
    APPROVED = "approved"
    COLLECTED = "collected"


@dataclass(frozen=True)
class NewEnrolment:
    """What the kiosk gets when it asks: the code to show, the token to collect with."""

    id: str
    code: str
    token: str
    expires_at: datetime


@dataclass(frozen=True)
class KioskSettings:
    """What an approved kiosk receives: enough to run with no one typing anything."""

    store: str
    kiosk: str
    broker_url: str  # mqtts://user:password@host:port (the CA beside it, not in it)
    broker_ca: str  # PEM
    hq_public_key: str  # PEM
    files_url: str


def spaced(code: str) -> str:
    """A code as the screen shows it and staff type it: ``K7F3-QX9M``."""
    return f"{code[:4]}-{code[4:]}"


def typed(code: str) -> str:
    """A code as staff typed it, in the stored form: spaces, dashes and case forgiven."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KioskProvisioner:
    """Gives an approved kiosk its broker login and settings, from the broker's files on HQ's host.

    Mosquitto reads a changed password file and ACL on SIGHUP: ``deploy/hq`` has a path unit
    that reloads it when they change (``reload`` is called after each change, for a broker
    reloaded another way).
    """

    def __init__(self, broker_dir: Path, broker_host: str, broker_port: int, hq_public_key_pem: str,
                 files_url: str, reload: Callable[[], None] = lambda: None) -> None:
        self.security = BrokerSecurity(broker_dir)
        self._host, self._port = broker_host, broker_port
        self._hq_key, self._files_url = hq_public_key_pem, files_url
        self._reload = reload
        self._lock = threading.Lock()  # the password file and ACL are rewritten whole

    def settings_for(self, store: str, kiosk: str) -> KioskSettings:
        with self._lock:
            credentials = self.security.provision_kiosk(store, kiosk)
        self._reload()
        return KioskSettings(store=store, kiosk=kiosk,
                             broker_url=f"mqtts://{credentials.username}:{credentials.password}@{self._host}:"
                                        f"{self._port}",
                             broker_ca=self.security.ca_cert.read_text(), hq_public_key=self._hq_key,
                             files_url=self._files_url)


class Enrolments:
    """The enrolments waiting, approved and collected (``ProfileStore.enrolments``)."""

    def __init__(self, engine: sa.Engine, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._engine = engine
        self._clock = clock

    def begin(self) -> NewEnrolment:
        """A new enrolment, its code unique among those HQ holds."""
        now = self._clock()
        token = secrets.token_urlsafe(32)
        with self._engine.begin() as db:
            db.execute(enrolments.delete().where(enrolments.c.expires_at < now - timedelta(days=1)))
            for _ in range(8):  # a clash among 2^40 codes is all but impossible; never two alike
                code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
                if db.execute(sa.select(enrolments.c.id).where(enrolments.c.code == code)).first() is None:
                    break
            new = NewEnrolment(uuid.uuid4().hex, code, token, now + timedelta(minutes=ENROL_MINUTES))
            db.execute(enrolments.insert().values(id=new.id, code=code, token_hash=_digest(token), created_at=now,
                                                  expires_at=new.expires_at, state=EnrolmentState.PENDING.value))
        return new

    def approve(self, code: str, store: str, kiosk: str, settings_for: Callable[[str, str], KioskSettings]) -> str:
        """Approve the enrolment showing ``code`` as ``store``/``kiosk``; its id.

        Raises:
            ApiRefusal: 404 ``unknown_code``, 410 ``code_expired``, 409 ``already_approved``.
        """
        now = self._clock()
        with self._engine.begin() as db:
            row = db.execute(sa.select(enrolments).where(enrolments.c.code == typed(code))
                             .with_for_update()).first()
            if row is None:
                raise ApiRefusal(404, "unknown_code", "no kiosk is showing that code: read it again off its screen")
            if _utc(row.expires_at) <= now:
                raise ApiRefusal(410, "code_expired", "that code has expired: restart the kiosk's enrolment for a new "
                                                      "one")
            if row.state != EnrolmentState.PENDING.value:
                raise ApiRefusal(409, "already_approved", f"that code was approved already, as {row.store}/{row.kiosk}")
            settings = settings_for(store, kiosk)
            db.execute(enrolments.update().where(enrolments.c.id == row.id).values(
                state=EnrolmentState.APPROVED.value, store=store, kiosk=kiosk,
                settings=json.dumps(asdict(settings))))
        return str(row.id)

    def collect(self, enrolment: str, token: str) -> KioskSettings | None:
        """The kiosk's settings once approved (once only), None while it waits.

        Raises:
            ApiRefusal: 404 ``unknown_enrolment`` (or a token not its own), 410 ``enrolment_expired``
                or ``already_collected``.
        """
        now = self._clock()
        with self._engine.begin() as db:
            row = db.execute(sa.select(enrolments).where(enrolments.c.id == enrolment).with_for_update()).first()
            if row is None or not hmac.compare_digest(row.token_hash, _digest(token)):
                raise ApiRefusal(404, "unknown_enrolment", "no such enrolment for that token")
            if row.state == EnrolmentState.COLLECTED.value:
                raise ApiRefusal(410, "already_collected", "this enrolment's settings were collected already")
            if row.state == EnrolmentState.PENDING.value:
                if _utc(row.expires_at) <= now:
                    raise ApiRefusal(410, "enrolment_expired", "nobody approved the code in time: start again")
                return None
            db.execute(enrolments.update().where(enrolments.c.id == row.id).values(
                state=EnrolmentState.COLLECTED.value, settings=None))  # HQ keeps no copy of the password
        return KioskSettings(**json.loads(row.settings))

    def state_of(self, enrolment: str) -> dict[str, Any] | None:
        """An enrolment as the log shows it (no token, no settings)."""
        with self._engine.connect() as db:
            row = db.execute(sa.select(enrolments.c.state, enrolments.c.store, enrolments.c.kiosk,
                                       enrolments.c.settings.is_not(None).label("holds_settings"))
                             .where(enrolments.c.id == enrolment)).first()
        return None if row is None else dict(row._mapping)


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
