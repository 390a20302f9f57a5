"""The kiosk's parts wired together: reader -> Kiosk -> outbox -> MQTT link.

The same runtime serves the Kivy window and the headless demo; the window passes a
``dispatch`` that moves each tap onto its main thread. Two parts have modules of their own:
HQ's catalog and model updates (``ContentUpdates``) and the signed-in shopper's profile,
pulled from HQ and kept current by its pushes (``VisitProfile``).
"""

from __future__ import annotations

import logging
import shutil
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from backend_sync import (
    CatalogUpdater,
    KioskFacts,
    KioskLink,
    ModelUpdater,
    Outbox,
    ProfileCache,
    SequenceFloor,
    StoreReceivers,
    damaged_outboxes,
)
from kiosk_app._care import KioskCare, ScreenPixels
from kiosk_app._clock_trust import SignedTime
from kiosk_app._content_updates import ContentUpdates
from kiosk_app._handoff import HandoffLinks
from kiosk_app._lock_file import LockFile
from kiosk_app._models import model_problem, usable_model
from kiosk_app._profiles import ShopperProfile
from kiosk_app._reservation_desk import ReservationDesk, StoreNews
from kiosk_app._reservations import RequestRefusal
from kiosk_app._software import SoftwareUpdates
from kiosk_app._visit_profile import VisitProfile
from kiosk_app.kiosk import Kiosk, OutcomeKind, TapOutcome
from kiosk_app.session import SessionMachine, Visit
from kiosk_app.staff import PinCheck, PinVerdict, StaffPin, pin_file
from kiosk_protocol import (
    Catalog,
    CommandKind,
    KioskCommand,
    OfferList,
    OpenRequest,
    PricedOffer,
    Product,
    ProfileChange,
    ReservationKind,
    Role,
    UpdateKind,
    card_verifier,
    public_key_from_pem,
    shopper_hash,
)
from nfc_reader import (
    ReaderState,
    ReaderStatus,
    TagRead,
    TagReader,
    UidTable,
    WriteResult,
    encode_offer,
    encode_product,
)

log = logging.getLogger(__name__)


Dispatch = Callable[[Callable[[], None]], None]

try:
    _APP_VERSION = metadata.version("nfc-kiosk")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    _APP_VERSION = "unknown"


def free_mb(folder: Path) -> int | None:
    """Megabytes free on the disk holding ``folder``, for HQ's disk alarm (None if it cannot be read)."""
    try:
        return shutil.disk_usage(folder).free // 2**20
    except OSError:
        return None


@dataclass(frozen=True)
class KioskConfig:
    """Everything one kiosk needs to know to start."""

    store: str
    kiosk: str
    catalog: Path
    reader: str
    broker: str
    data_dir: Path
    hq_public_key: Path
    # HQ's file server (http://host:port); None leaves the kiosk on the catalog it has.
    files_url: str | None = None
    idle_timeout_s: float = 60.0
    # The supervisor's software folder (``kiosk supervise``); None: HQ's software releases are not taken.
    software_dir: Path | None = None


@dataclass(frozen=True)
class KioskHealth:
    """What staff mode shows: each part of the kiosk and whether it is well."""

    reader: ReaderStatus
    broker: str
    broker_connected: bool
    backlog: int
    catalog_version: int
    update_problem: str
    app_version: str
    taps: int
    unreadable: int
    # Storage faults the kiosk lives with: why it runs on an older catalog, the file a
    # damaged outbox was set aside as, a disk too full to record events.
    catalog_fallback: str = ""
    outbox_reset: str = ""
    disk_full: bool = False
    events_not_recorded: int = 0
    offers_problem: str = ""  # the offers beside the catalog did not load: the kiosk runs with none


class KioskRuntime:
    """Starts and stops one kiosk's reader, outbox and link around a Kiosk."""

    def __init__(
        self,
        config: KioskConfig,
        on_outcome: Callable[[TapOutcome], None],
        dispatch: Dispatch = lambda work: work(),
        on_reader_status: Callable[[ReaderStatus], None] | None = None,
        on_profile: Callable[[ShopperProfile], None] | None = None,
        on_remote: Callable[[CommandKind], None] | None = None,
        on_catalog: Callable[[], None] | None = None,
        on_profile_change: Callable[[ProfileChange], None] | None = None,
        on_store_news: Callable[[StoreNews], None] | None = None,
        grab_screen: Callable[[], ScreenPixels] | None = None,
        on_switch: Callable[[], None] | None = None,
    ) -> None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = config.data_dir
        hq_key = public_key_from_pem(config.hq_public_key.read_bytes())
        # The highest sequence HQ may hold, kept apart: a damaged outbox is replaced by one that goes on above it.
        self.sequence_floor = SequenceFloor(config.data_dir / "outbox-floor.json")
        self.outbox = Outbox(config.data_dir / "outbox.sqlite", sequence_floor=self.sequence_floor.value)
        # Said until someone takes the set-aside file away (it may hold events HQ never had).
        set_aside = damaged_outboxes(config.data_dir / "outbox.sqlite")
        self.outbox_set_aside = set_aside[-1].name if set_aside else ""
        self.outbox_reset = str(self.outbox.reset) if self.outbox.reset else (
            f"a damaged outbox is kept as {self.outbox_set_aside}" if set_aside else "")
        self.profiles = ProfileCache(config.data_dir / "profiles.sqlite")
        files_url = config.files_url or ""
        self.catalog_updater = CatalogUpdater(config.data_dir / "catalog", hq_key, files_url)
        self.model_updater = ModelUpdater(config.data_dir / "model", hq_key, files_url, check=model_problem)
        # What HQ delivered last survives restarts; a damaged one gives way to the version
        # before it, then to the shipped catalog (said in the status), with a content-only
        # model of it (built off the screen's thread by ``start``) as the fallback model.
        choice = self.catalog_updater.load_usable(config.catalog)
        self.kiosk = Kiosk(choice.catalog, self.outbox, config.store, config.kiosk, verify_card=card_verifier(hq_key),
                           recommender=usable_model(self.model_updater.current_model),
                           verify_badge=card_verifier(hq_key, Role.STAFF, store=config.store),
                           machine=SessionMachine(idle_timeout_s=config.idle_timeout_s,
                                                  on_visit_ended=self._visit_ended))
        # HQ's updates swap catalog, offers and model in. The newest time HQ signed is kept across
        # restarts: offers go by the wall clock only while it is not behind.
        self.content = ContentUpdates(self.kiosk, self.catalog_updater, self.model_updater, choice.path,
                                      choice.fallback, SignedTime(config.data_dir / "signed-time.json"), dispatch,
                                      on_catalog=self._catalog_swapped, on_problem=self._tell_hq)
        self.updates = self.content.workers  # one UpdateWorker per kind of update
        # HQ's software releases, installed beside the running one; switched to by ending for the supervisor.
        self.software = SoftwareUpdates(config.software_dir, hq_key, files_url, self.kiosk, dispatch,
                                        on_switch or (lambda: None), self._tell_hq) if (
            config.software_dir is not None and config.files_url) else None
        self.staff_pin = StaffPin(pin_file(config.data_dir))
        # A lock from HQ or staff holds across restarts until someone unlocks.
        self._lock_file = LockFile(config.data_dir / "locked.json")
        if (lock_reason := self._lock_file.reason()) is not None:
            self.kiosk.machine.lock(lock_reason)
        self.reader_status = ReaderStatus(ReaderState.OFFLINE, config.reader, "starting")
        # Holds asked of HQ, and the store's stock and open requests as HQ keeps them (``_reservation_desk``).
        self.reservations = ReservationDesk(
            lambda *ask: self.link.request_reservation(*ask), self.kiosk.machine, lambda: self.kiosk.catalog,
            config.store, dispatch, on_store_news or (lambda news: None))
        desk = self.reservations
        # HQ's remote care: a screenshot (never of a signed-in shopper's screen) and the log's last lines.
        self.care = KioskCare(config.store, config.kiosk, lambda response: self.link.answer_care(response),
                              lambda: self.kiosk.session.shopper is not None, dispatch, grab_screen)
        self.link = KioskLink(config.broker, config.store, config.kiosk, self.outbox, facts=self._facts,
                              on_command=self._on_command, on_care=self.care.take, sequence_floor=self.sequence_floor,
                              on_profile_change=lambda change: dispatch(lambda: self.visit_profile.take_change(change)),
                              on_connected=self._connected,
                              store_receivers=StoreReceivers(desk.heard_update, desk.heard_level, desk.heard_requests,
                                                             desk.heard_late_answer),
                              on_manifest=self._take_manifest if config.files_url else lambda kind, m: None)
        # Tags without NDEF (old labels) are known by UID through a table staff maintain.
        self.reader = TagReader(config.reader, self._on_read, self._on_reader_status,
                                uid_table=UidTable(config.data_dir / "uid-table.json"))
        self._on_outcome = on_outcome
        self._dispatch = dispatch
        self._forward_reader_status = on_reader_status or (lambda status: None)
        self._on_remote = on_remote or (lambda command: None)
        self._on_catalog = on_catalog or (lambda: None)
        self.handoffs = HandoffLinks(self.link.request_handoff, lambda: self.kiosk.session, dispatch,
                                     on_shown=self.kiosk.handoff_shown)
        self.visit_profile = VisitProfile(self.kiosk, self.link, self.profiles, dispatch,
                                          on_profile or (lambda profile: None),
                                          on_profile_change or (lambda change: None), on_outcome)

    def start(self) -> None:
        """Start the link, the reader and the catalog and model updates."""
        logging.getLogger().addHandler(self.care.log_tail)
        self.content.start()
        if self.software is not None:
            self.software.start()
        self.link.start()
        self.reader.start()

    def stop(self) -> None:
        """Stop reading, then stop the link; unsent events stay in the outbox."""
        self.reader.stop()
        self.link.stop()
        self.content.stop()
        if self.software is not None:
            self.software.stop()
        self.outbox.close()
        self.profiles.close()
        logging.getLogger().removeHandler(self.care.log_tail)

    def fetch_profile(self, shopper: str, card_token: str, session: uuid.UUID | None = None) -> ShopperProfile | None:
        """The shopper's profile from HQ, or what this kiosk last knew of it when HQ is out of reach.

        With ``session`` (the visit signed in), HQ pushes that visit the profile's later changes.
        """
        return self.visit_profile.fetch(shopper, card_token, session)

    def health(self) -> KioskHealth:
        """A snapshot of every part's state, for staff mode."""
        return KioskHealth(reader=self.reader_status, broker=str(self.link.broker),
                           broker_connected=self.link.connected, backlog=len(self.outbox),
                           catalog_version=self.kiosk.catalog.catalog_version, update_problem=self.update_problem,
                           app_version=_APP_VERSION, taps=self.kiosk.counters.taps,
                           unreadable=self.kiosk.counters.unreadable, catalog_fallback=self.catalog_fallback,
                           outbox_reset=self.outbox_set_aside,
                           disk_full=self.kiosk.disk_full, events_not_recorded=self.kiosk.counters.events_not_recorded,
                           offers_problem=self.offers_problem)

    def sync_now(self) -> None:
        """Send every event HQ has not confirmed yet, and the status, without waiting."""
        self.link.sync_now()

    def lock(self, reason: str) -> None:
        """Take the kiosk out of service (kept across restarts, when the disk takes the lock file)."""
        self._lock_file.hold(reason)
        self.kiosk.machine.lock(reason)
        self._tell_hq()

    def unlock(self) -> None:
        """Put the kiosk back in service."""
        self._lock_file.release()
        self.kiosk.machine.unlock()
        self._tell_hq()

    def _tell_hq(self) -> None:
        """Publish the status now (the fleet view hears of a change at once), when connected."""
        if self.link.connected:
            self.link.publish_status()

    def check_updates_now(self) -> None:
        """Try the latest catalog and model HQ announced again, now (a newer one is taken, the same is not)."""
        self.content.check_again()

    @property
    def update_problem(self) -> str:
        """Why HQ's latest catalog or model is not in use ("" when it is)."""
        return self.content.problem

    @property
    def catalog_fallback(self) -> str:
        """Why the kiosk runs on an older catalog than HQ's newest on its disk ("" when it does not)."""
        return self.content.catalog_fallback

    @property
    def offers_problem(self) -> str:
        """Why the offers beside the catalog did not load, so the kiosk runs with none ("" when they did)."""
        return self.content.offers_problem

    # What the screens use (KioskControls, kiosk_app/controls.py), on the screen's thread.
    # Their inputs go to the Kiosk like taps do, and the outcome comes back through on_outcome.

    @property
    def catalog(self) -> Catalog:
        """The catalog in use (HQ's newest once applied)."""
        return self.kiosk.catalog

    @property
    def catalog_file(self) -> Path:
        """The file of the catalog in use: its images are found next to it."""
        return self.content.catalog_file

    @property
    def state(self) -> SessionMachine:
        """The kiosk's mode and visit, for the screens to read; they change it only through these methods."""
        return self.kiosk.machine

    @property
    def backlog(self) -> int:
        """How many events HQ has not confirmed yet."""
        return len(self.outbox)

    @property
    def broker_connected(self) -> bool:
        """Whether the link to the broker is up."""
        return self.link.connected

    def note_activity(self) -> None:
        """Someone touched the screen: the idle countdown starts again."""
        self.kiosk.machine.touch()

    def expire_idle(self) -> bool:
        """End the visit or staff mode once idle too long (a tag write waiting is cancelled); True if it did."""
        if not self.kiosk.machine.expire():
            return False
        log.info("idle for %.0f s: visit or staff mode ended", self.kiosk.machine.idle_timeout_s)
        self.reader.cancel_write()
        return True

    def consent(self, granted: bool) -> None:
        """The signed-in shopper's answer to linking this visit to their profile."""
        self.kiosk.consent(granted)

    def set_wishlist(self, sku: str, wanted: bool) -> bool:
        """Put ``sku`` on the consenting shopper's wishlist or take it off; False when nobody may."""
        return self.kiosk.set_wishlist(sku, wanted)

    def handoff_link(self, on_link: Callable[[str], None]) -> str | None:
        """The visit's "continue on your phone" link from HQ if held; else None, and ``on_link`` gets it later."""
        return self.handoffs.link(on_link)

    def touch_suggestion(self, sku: str, beside: str) -> None:
        """The shopper touched the suggestion ``sku`` shown beside the product ``beside``."""
        self._take(lambda: self.kiosk.touch_suggestion(sku, beside))

    def suggestions_shown(self, beside: str, shown: Sequence[str]) -> None:
        """The product screen put the suggestions ``shown`` (in screen order) beside the product ``beside``."""
        self.kiosk.suggestions_shown(beside, shown)

    @property
    def offers(self) -> OfferList:
        """The offers this kiosk runs on (beside the catalog in use)."""
        return self.kiosk.offers

    def offer_price(self, product: Product) -> PricedOffer | None:
        """The best offer on ``product`` for the visit now, and its price (None: none, or the clock is not trusted)."""
        return self.kiosk.offer_price(product)

    def save_coupon(self, offer_id: str) -> bool:
        """Save a members' offer to the signed-in, consenting shopper's card; False when it cannot be."""
        return self.kiosk.save_coupon(offer_id)

    def open_product(self, sku: str) -> None:
        """The shopper touched a product card (an offer's): its product screen, no tag tap counted."""
        self._take(lambda: self.kiosk.open_product(sku))

    def enter_staff_pin(self, attempt: str) -> PinCheck:
        """Check a PIN typed on the pad; the right one opens staff mode."""
        check = self.staff_pin.check(attempt)
        if check.verdict is PinVerdict.ACCEPTED:
            self._take(self.kiosk.staff_pin_accepted)
        return check

    def leave_staff(self) -> None:
        """Staff leave from the screen; a tag write still waiting for its tag is cancelled."""
        self.reader.cancel_write()
        self._take(self.kiosk.leave_staff)

    def write_product_tag(self, sku: str, timeout_s: float) -> Future[WriteResult]:
        """Write the product tag of ``sku`` on the next tag held to the reader, and read it back.

        Raises:
            NfcReaderError: the reader cannot write now (see ``TagReader.write_next``).
        """
        return self.reader.write_next(encode_product(self.kiosk.catalog.shop_url, sku), timeout_s)

    def write_offer_tag(self, offer_id: str, timeout_s: float) -> Future[WriteResult]:
        """Write the sign of ``offer_id`` (this shop's address of the offer) on the next tag held to the reader.

        Raises:
            ValueError: not a valid offer id.
            NfcReaderError: the reader cannot write now (see ``TagReader.write_next``).
        """
        return self.reader.write_next(encode_offer(self.kiosk.catalog.shop_url, offer_id), timeout_s)

    def reserve(self, sku: str, size: str, kind: ReservationKind) -> RequestRefusal | None:
        """Ask HQ to hold ``sku`` in ``size`` for the visit; None once asked (news follows), else why not."""
        return self.reservations.reserve(sku, size, kind)

    def free_units(self, sku: str) -> dict[str, int] | None:
        """Units free per size of ``sku`` here: HQ's figures once in, else the catalog's (None: not sold here)."""
        return self.reservations.free_units(sku)

    @property
    def open_requests(self) -> tuple[OpenRequest, ...]:
        """The store's open requests as HQ lists them, oldest first, for staff mode."""
        return self.reservations.store.open_requests

    def _take(self, act: Callable[[], TapOutcome]) -> TapOutcome:
        """Give the Kiosk one input and the screen its outcome."""
        disk_was_full = self.kiosk.disk_full
        outcome = act()
        if self.kiosk.disk_full != disk_was_full:
            self._tell_hq()  # the fleet view hears of a full disk at once
        self._on_outcome(outcome)
        return outcome

    # End of what the screens use.

    def _on_read(self, read: TagRead) -> None:
        def handle() -> None:
            outcome = self._take(lambda: self.kiosk.handle(read))
            if outcome.kind is OutcomeKind.SIGNED_IN and outcome.shopper and read.token:
                self.visit_profile.pull(outcome.shopper, read.token, self.kiosk.session.id)

        self._dispatch(handle)

    def _visit_ended(self, visit: Visit) -> None:
        """However a signed-in visit ended, HQ pushes it no more."""
        self.link.end_visit(visit.id)

    def _on_command(self, command: KioskCommand) -> None:
        """HQ's orders arrive on the link's thread; anything touching the session moves to the dispatch thread."""
        kind = command.command
        log.info("HQ ordered %s", kind.value)
        if kind is CommandKind.FORGET_SHOPPER and command.shopper_hash:
            self.profiles.forget(command.shopper_hash)
            self._dispatch(lambda: self._forget_if_signed_in(command.shopper_hash or ""))
            return
        if kind is CommandKind.RELOAD_CATALOG:
            self.check_updates_now()
        elif kind is CommandKind.LOCK:
            self._dispatch(lambda: self.lock("hq"))
        elif kind is CommandKind.UNLOCK:
            self._dispatch(self.unlock)
        self._dispatch(lambda: self._on_remote(kind))

    def _forget_if_signed_in(self, hashed: str) -> None:
        if self.kiosk.session.shopper and shopper_hash(self.kiosk.session.shopper) == hashed:
            self.kiosk.end_session(erased=True)
            self._on_outcome(TapOutcome(OutcomeKind.SIGNED_OUT))

    def software_passed(self, part: str) -> None:
        """A part of a release's health check is well (nothing when no release is on trial)."""
        if self.software is not None:
            self.software.passed(part)

    def switch_if_idle(self) -> bool:
        """Switch to a release HQ sent, installed and waiting, if nobody uses the kiosk; True if it did."""
        return self.software is not None and self.software.switch_if_idle()

    def _take_manifest(self, kind: UpdateKind, envelope: bytes) -> None:
        if kind is UpdateKind.SOFTWARE:
            if self.software is not None:
                self.software.take_manifest(envelope)
        else:
            self.content.take_manifest(kind, envelope)

    def _connected(self) -> None:
        self._dispatch(self.visit_profile.pull_again)
        self.software_passed("broker")

    def _on_reader_status(self, status: ReaderStatus) -> None:
        if status.state is ReaderState.ONLINE:
            self.software_passed("reader")
        self.reader_status = status
        self._tell_hq()  # the fleet view hears of a lost reader at once
        self._forward_reader_status(status)

    def _facts(self) -> KioskFacts:
        software = self.software
        return KioskFacts(app_version=_APP_VERSION, catalog_version=self.kiosk.catalog.catalog_version,
                          reader=self.reader_status.state.value, update_problem=self.update_problem,
                          locked=self.kiosk.machine.lock_reason or "", catalog_fallback=self.catalog_fallback,
                          outbox_reset=self.outbox_reset, disk_full=self.kiosk.disk_full,
                          disk_free_mb=free_mb(self.data_dir), offers_problem=self.offers_problem,
                          software_release=software.running if software else 0,
                          software_on_trial=software.on_trial if software else False,
                          software_failed=software.failed if software else 0,
                          software_problem=software.problem if software else "")

    def _catalog_swapped(self) -> None:
        """A new catalog is in use (on the screen's thread): the fleet view and the screens hear of it."""
        self.link.publish_status()
        self._on_catalog()
