"""The wire contract between kiosks and HQ: topics and message schemas.

Topics (``<store>`` and ``<kiosk>`` are ids of ``[a-z0-9-]``)::

    kiosk/<store>/<kiosk>/events            tap events, QoS 1, kiosk -> HQ
    kiosk/<store>/<kiosk>/receipts          sequences HQ has stored, HQ -> kiosk
    kiosk/<store>/<kiosk>/status            retained online/offline, kiosk -> everyone
    kiosk/<store>/<kiosk>/commands          HQ -> kiosk
    kiosk/<store>/<kiosk>/profile/request   kiosk -> HQ
    kiosk/<store>/<kiosk>/profile/response  HQ -> kiosk
    kiosk/<store>/<kiosk>/handoff/request   kiosk -> HQ: a link to continue the visit on a phone
    kiosk/<store>/<kiosk>/handoff/response  HQ -> kiosk: the link, signed by HQ
    kiosk/<store>/<kiosk>/profile/changes   the signed-in shopper's changes made elsewhere, HQ -> kiosk
    kiosk/<store>/<kiosk>/profile/ended     the visit HQ pushes those to is over, kiosk -> HQ
    fleet/commands                          HQ -> every kiosk
    fleet/manifests/<kind>                  retained signed manifest (catalog, model)

Every message carries ``"v"``, the schema version; a payload of an unknown version or
shape is rejected with ContractError, and one larger than its kind's ``max_bytes`` with
MessageTooLarge, before it is parsed. The profile's own messages (pulled at sign-in, pushed
while the shopper stands at the kiosk) are in ``_profile_messages``, and the characters a shopper
id and a display name may hold in ``_ids``.

Tap events are at version 2: an event that names a shopper carries the token of the
shopper's card read in that visit (``card``), HQ's proof that the shopper was there.
HQ still takes version 1 for anonymous events (a fleet is not upgraded at one instant),
of the kinds version 1 had: ``suggestion_tap`` (a suggestion touched on the screen) is
version 2 only.

Profile requests and responses are at version 2 (``_profile_messages``): a response may
carry the name the shopper gave to be greeted by and the change-log cursor it is as of. A
kiosk reads only the versions it knows and refuses unknown fields, so HQ answers each
request in the request's own version: a kiosk from before display names asks in version
1 and gets version 1, with no name and no pushes. As with events, HQ is upgraded before
its kiosks.
"""

from __future__ import annotations

import enum
import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Final, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from kiosk_protocol._ids import DisplayName, ShopperId
from kiosk_protocol.exceptions import ContractError, MessageTooLarge
from kiosk_protocol.offers import OfferId

EVENTS_WILDCARD = "kiosk/+/+/events"
STATUS_WILDCARD = "kiosk/+/+/status"
# Events of other channels (web shop, app) are stored as from store "online", with the
# channel as kiosk id; no real store may take this id.
ONLINE_STORE = "online"
PROFILE_REQUESTS_WILDCARD = "kiosk/+/+/profile/request"
HANDOFF_REQUESTS_WILDCARD = "kiosk/+/+/handoff/request"
PROFILE_ENDED_WILDCARD = "kiosk/+/+/profile/ended"
FLEET_COMMANDS = "fleet/commands"
_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
_ID_PATTERN = re.compile(_ID)
# A message kind without a limit of its own (``max_bytes``) may be this large.
MAX_PAYLOAD_BYTES = 16 * 1024
# A signed manifest lists every file of a version (about 170 bytes each once signed):
# room for some 25,000 distinct files. HQ refuses to announce a larger one.
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
# The largest MQTT packet the broker takes: the largest message (a manifest) with room
# for its topic and properties. Anything larger is refused at the broker.
MAX_PACKET_BYTES = MAX_MANIFEST_BYTES + 64 * 1024

Id = Annotated[str, Field(pattern=_ID)]
_Message = TypeVar("_Message", bound=BaseModel)


class EventKind(enum.Enum):
    """What a shopper did."""

    PRODUCT_VIEW = "product_view"  # a product tag tapped
    SUGGESTION_TAP = "suggestion_tap"  # a suggestion touched on the screen, beside the product in view
    WISHLIST_ADD = "wishlist_add"
    WISHLIST_REMOVE = "wishlist_remove"
    CONSENT = "consent"
    PREFERENCE = "preference"
    DISPLAY_NAME = "display_name"  # what channels may call the shopper by
    OFFER_TAP = "offer_tap"  # a sign tag tapped: the offer it names was shown
    COUPON_SAVE = "coupon_save"  # a signed-in member saved an offer to their card
    # Version 3: what analytics needs besides taps.
    SUGGESTION_SHOWN = "suggestion_shown"  # the suggestions put on screen beside a product (``shown``)
    HANDOFF = "handoff"  # the visit handed off to the shopper's phone (its QR code shown)
    VISIT_START = "visit_start"  # a visit's first tap
    VISIT_END = "visit_end"  # a visit ended, after ``dwell_s`` seconds from its start


class ConsentStatus(enum.Enum):
    """A shopper's answer to linking their visits to their profile."""

    GRANTED = "granted"
    DENIED = "denied"
    REVOKED = "revoked"


Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
HlcText = Annotated[str, Field(pattern=r"^\d{15}-\d{6}-[a-z0-9][a-z0-9.-]{0,63}$")]
PreferenceKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
PreferenceValue = Annotated[str, Field(max_length=256, pattern=r"^[^\x00-\x1f\x7f]*$")]
CardToken = Annotated[str, Field(min_length=1, max_length=1024)]

EVENT_VERSION: Final = 3
MAX_SHOWN: Final = 12  # suggestions one screen can show
LONGEST_VISIT_S: Final = 24 * 3600

# The fields each kind must carry (and no other kind may), and the kinds newer than version 1.
_KIND_FIELDS = {
    EventKind.PRODUCT_VIEW: {"sku"},
    EventKind.SUGGESTION_TAP: {"sku", "beside"},
    EventKind.WISHLIST_ADD: {"sku", "hlc", "shopper"},
    EventKind.WISHLIST_REMOVE: {"sku", "hlc", "shopper"},
    EventKind.CONSENT: {"consent", "hlc", "shopper"},
    EventKind.PREFERENCE: {"key", "value", "hlc", "shopper"},
    EventKind.DISPLAY_NAME: {"display_name", "hlc", "shopper"},
    EventKind.OFFER_TAP: {"offer"},
    EventKind.COUPON_SAVE: {"offer", "hlc", "shopper"},
    EventKind.SUGGESTION_SHOWN: {"shown", "beside"},
    EventKind.HANDOFF: set(),
    EventKind.VISIT_START: set(),
    EventKind.VISIT_END: {"dwell_s"},
}
_OPTIONAL_FIELDS = {"sku", "beside", "hlc", "consent", "key", "value", "display_name", "offer", "shown", "dwell_s"}
_KIND_SINCE_VERSION = {EventKind.SUGGESTION_TAP: 2, EventKind.DISPLAY_NAME: 2, EventKind.OFFER_TAP: 2,
                       EventKind.COUPON_SAVE: 2, EventKind.SUGGESTION_SHOWN: 3, EventKind.HANDOFF: 3,
                       EventKind.VISIT_START: 3, EventKind.VISIT_END: 3}
# The kinds that say the shopper looked at ``sku``: each is a view in their profile.
VIEW_KINDS: Final = frozenset({EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP})


class TapEvent(BaseModel):
    """One thing a shopper did at a kiosk, as HQ stores it.

    Changes to a profile (wishlist, consent, preferences, display name) carry the shopper's id and a
    hybrid logical timestamp (``hlc``) by which HQ merges them with other channels'.
    From version 2 on, an event that names a shopper carries the token of the card the
    shopper tapped in this visit (``card``); HQ checks it once per visit. A touched
    suggestion (``suggestion_tap``) names the product it was suggested ``beside``; a tapped
    sign (``offer_tap``) and a saved coupon (``coupon_save``) name their ``offer``.
    From version 3 on, the kiosk also says what analytics needs: the suggestions it put on
    screen (``suggestion_shown``: ``shown`` beside ``beside``), a hand-off to the phone
    (``handoff``), and a visit's start and end (``visit_start``; ``visit_end`` with its
    ``dwell_s``). Like views, they name the shopper only in a visit they agreed to link.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 4 * 1024  # the largest valid event is under 1.5 KiB

    v: Literal[1, 2, 3] = EVENT_VERSION
    event_id: uuid.UUID
    kind: EventKind
    store: Id
    kiosk: Id
    seq: int = Field(ge=1)
    session: uuid.UUID
    shopper: ShopperId | None = None
    at: datetime
    sku: Sku | None = None
    beside: Sku | None = None
    hlc: HlcText | None = None
    consent: ConsentStatus | None = None
    key: PreferenceKey | None = None
    value: PreferenceValue | None = None
    display_name: DisplayName | None = None
    offer: OfferId | None = None
    shown: tuple[Sku, ...] | None = Field(default=None, min_length=1, max_length=MAX_SHOWN)
    dwell_s: int | None = Field(default=None, ge=0, le=LONGEST_VISIT_S)
    card: CardToken | None = None

    @model_validator(mode="after")
    def _fields_match_kind(self) -> TapEvent:
        if self.card is not None and (self.v < 2 or self.shopper is None):
            raise ValueError("only a version 2 event that names a shopper carries a card token")
        if self.v < _KIND_SINCE_VERSION.get(self.kind, 1):
            raise ValueError(f"a {self.kind.value} event is version {_KIND_SINCE_VERSION[self.kind]} or later")
        needed = _KIND_FIELDS[self.kind]
        missing = sorted(f for f in needed if getattr(self, f) is None)
        extra = sorted(f for f in _OPTIONAL_FIELDS - needed if getattr(self, f) is not None)
        if missing or extra:
            raise ValueError(f"{self.kind.value} event: missing {missing}, unexpected {extra}")
        return self


@dataclass(frozen=True)
class KioskTopics:
    """Every topic of one kiosk."""

    events: str
    receipts: str
    status: str
    commands: str
    profile_request: str
    profile_response: str
    handoff_request: str
    handoff_response: str
    profile_changes: str
    profile_ended: str
    software: str  # retained: the signed manifest of the software release HQ wants it to run


def kiosk_topics(store: str, kiosk: str) -> KioskTopics:
    """The topics of kiosk ``kiosk`` in store ``store``.

    Raises:
        ContractError: an id that is not ``[a-z0-9-]``.
    """
    base = f"kiosk/{_checked_id(store)}/{_checked_id(kiosk)}"
    return KioskTopics(
        events=f"{base}/events", receipts=f"{base}/receipts", status=f"{base}/status", commands=f"{base}/commands",
        profile_request=f"{base}/profile/request", profile_response=f"{base}/profile/response",
        profile_changes=f"{base}/profile/changes", profile_ended=f"{base}/profile/ended",
        handoff_request=f"{base}/handoff/request", handoff_response=f"{base}/handoff/response",
        software=f"{base}/software")


class LinkState(enum.Enum):
    """Whether a kiosk is connected (its last will says offline for it)."""

    ONLINE = "online"
    OFFLINE = "offline"


# Events waiting in a kiosk's outbox from which HQ has not had them for a while: the fleet
# view alerts on it and the kiosk's staff screen shows it as a fault.
BACKLOG_HIGH: Final = 500


class KioskStatus(BaseModel):
    """A kiosk's retained status: what the fleet view shows for it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 16 * 1024  # its texts (an update problem) are free-form

    v: Literal[1] = 1
    state: LinkState
    store: Id
    kiosk: Id
    app_version: str = ""
    catalog_version: int = 0
    backlog: int = Field(default=0, ge=0)
    reader: str = "unknown"
    update_problem: str = ""  # why the last catalog update was refused, if it was
    locked: str = ""  # who took the kiosk out of service ("hq", "staff"), if it is
    # Storage faults the kiosk survived: the catalog it fell back to and why, a damaged
    # outbox it set aside, a disk too full to record events.
    catalog_fallback: str = ""
    outbox_reset: str = ""
    disk_full: bool = False
    disk_free_mb: int | None = Field(default=None, ge=0)  # free space where it keeps its data; None: not known
    offers_problem: str = ""  # why the offers beside the catalog in use could not be used: it runs with none
    # The software release whose code is running (0: the one installed with the kiosk), read
    # from where its code was loaded, never from what HQ asked for; and the last release that
    # failed its health check here, switched back from, with why. A release on trial has not yet
    # passed its health check: running it is not yet having it.
    software_release: int = Field(default=0, ge=0)
    software_on_trial: bool = False
    software_failed: int = Field(default=0, ge=0)
    software_problem: str = ""
    at: datetime


def decode_status(payload: bytes) -> KioskStatus:
    """Validate a status message (raises ContractError)."""
    return decode(KioskStatus, payload)


class CommandKind(enum.Enum):
    """What HQ can tell kiosks to do."""

    FORGET_SHOPPER = "forget_shopper"
    RELOAD_CATALOG = "reload_catalog"  # check for and apply the current catalog now
    LOCK = "lock"  # out of service until unlocked
    UNLOCK = "unlock"
    IDENTIFY = "identify"  # flash the screen so staff can find this kiosk


class KioskCommand(BaseModel):
    """An order from HQ. A shopper is named by ``shopper_hash`` (see ``shopper_hash``),
    so a fleet-wide message never spells out whose profile was erased."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 1024

    v: Literal[1] = 1
    command: CommandKind
    shopper_hash: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = None


def channel_of(store: str, kiosk: str) -> str:
    """The channel an event came through: ``web``, ``app``... or ``kiosk:<kiosk>``."""
    return kiosk if store == ONLINE_STORE else f"kiosk:{kiosk}"


def shopper_hash(shopper: str) -> str:
    """How kiosks key what they cache about a shopper."""
    return hashlib.sha256(f"kiosk-cache:{shopper}".encode()).hexdigest()


def size_limit(model: type[BaseModel]) -> int:
    """How many bytes a message of ``model`` may have on the wire (its ``max_bytes``)."""
    limit = getattr(model, "max_bytes", MAX_PAYLOAD_BYTES)
    return limit if isinstance(limit, int) else MAX_PAYLOAD_BYTES


def decode(model: type[_Message], payload: bytes) -> _Message:
    """Validate a payload as ``model``; its size is checked before anything is parsed.

    Raises:
        MessageTooLarge: larger than the kind's limit (``size_limit``).
        ContractError: unknown version or wrong shape.
    """
    limit = size_limit(model)
    if len(payload) > limit:
        raise MessageTooLarge(f"{model.__name__} of {len(payload)} bytes exceeds its limit of {limit} bytes")
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        raise ContractError(f"not a {model.__name__}: {exc.errors(include_url=False)[:3]}") from exc


class Receipt(BaseModel):
    """HQ has stored the events with these outbox sequences; the kiosk may forget them.

    Over MQTT 5 it carries the highest sequence HQ holds for the kiosk in the user property
    ``RECEIPT_HIGHEST_SEQ`` (outside the body, which kiosks of before it refuse to see
    grow): a kiosk whose outbox was lost continues above it.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 256 * 1024  # up to 10,000 sequences of up to 19 digits

    v: Literal[1] = 1
    seqs: Annotated[tuple[Annotated[int, Field(ge=1)], ...], Field(min_length=1, max_length=10_000)]


RECEIPT_HIGHEST_SEQ = "highest-seq"


def decode_receipt(payload: bytes) -> Receipt:
    """Validate a receipt (raises ContractError)."""
    return decode(Receipt, payload)


def manifest_topic(kind: str) -> str:
    """Retained topic of the current signed manifest of ``kind`` (catalog, model)."""
    return f"fleet/manifests/{kind}"


def events_topic(store: str, kiosk: str) -> str:
    """Topic a kiosk publishes its events on."""
    return kiosk_topics(store, kiosk).events


def new_event(
    *,
    kind: EventKind,
    store: str,
    kiosk: str,
    seq: int,
    session: uuid.UUID,
    shopper: str | None,
    event_id: uuid.UUID | None = None,
    **details: object,
) -> TapEvent:
    """An event stamped now (UTC), with ``event_id`` or a fresh unique one.

    ``details`` are the kind's own fields (``sku``, and ``beside`` for a touched
    suggestion; ``hlc`` and ``consent``, ``key`` and ``value`` or ``display_name`` for
    profile changes).
    """
    return TapEvent.model_validate({
        "event_id": event_id or uuid.uuid4(), "kind": kind, "store": store, "kiosk": kiosk, "seq": seq,
        "session": session, "shopper": shopper, "at": datetime.now(UTC), **details,
    })


def encode_event(event: TapEvent) -> bytes:
    """Wire bytes of an event."""
    return event.model_dump_json().encode()


def decode_event(payload: bytes, topic: str | None = None) -> TapEvent:
    """Validate a payload as a TapEvent; when ``topic`` is given it must match the event.

    Raises:
        ContractError: unknown version, wrong shape, too large, or topic mismatch.
    """
    event = decode(TapEvent, payload)
    if topic is not None and topic != events_topic(event.store, event.kiosk):
        raise ContractError(f"event from {event.store}/{event.kiosk} arrived on {topic!r}")
    return event


def _checked_id(value: str) -> str:
    if not _ID_PATTERN.match(value):
        raise ContractError(f"not a valid store or kiosk id: {value!r}")
    return value
