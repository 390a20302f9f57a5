"""Live push with real parts: a shopper signed in at a kiosk (an nfcpy tap of their card, the
kiosk's runtime, or the real window under Xvfb) gets each change to their profile made in
another channel (HQ's HTTP API over a socket, through a real Mosquitto); the kiosk's own are
not echoed; another kiosk's login under the generated ACL hears nothing; sign-out and the
idle wipe end it; HQ restarting resumes without loss or repeats; and forged, oversized or
malformed pushes change nothing."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import BrokerUrl, KioskLink, Outbox
from backend_sync._mqtt import connect_async, new_client
from hq import (
    BrokerSecurity,
    IngestWorker,
    ProfilePusher,
    ProfileResponder,
    ProfileStore,
)
from hq._orders import Order, OrderLine
from kiosk_app import KioskConfig, OutcomeKind
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.ui.present import greeting
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import (
    OFFERS_FILE,
    ChangeKind,
    EventKind,
    Hlc,
    ProfileChange,
    Role,
    VisitEnded,
    issue_token,
    kiosk_topics,
    load_catalog,
    load_offers,
    new_event,
)
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator, encode_card, encode_product
from testkit.chaos import TcpProxy
from testkit.kivy_window import frames_drawn, run_kiosk_window
from testkit.live_hq import KIOSK, SHOPPER, STORE, Hq, Kiosk
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually, until

TAN_BOOT, BOOT, TOTE, COAT = "BOOT-CHELSEA-TAN", "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN", "COAT-WOOL-GRY"
MEMBERS_OFFER = "MEMBERS-KNIT"  # the demo's members' offer, beside the demo catalog the kiosk runs on
SHOP_URL = load_catalog(demo_catalog_path()).shop_url


@pytest.fixture
def token(hq_key: tuple[Ed25519PrivateKey, Path]) -> str:
    return issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)


@pytest.fixture
def hq(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[Hq]:
    """HQ with a shopper who has a profile: a view on the web and a boot on their wishlist."""
    running = Hq(mosquitto.url, sqlite_url, hq_key[0])
    running.call("PUT", f"/v1/shoppers/{SHOPPER}/consent", {"status": "granted"})
    running.call("POST", f"/v1/shoppers/{SHOPPER}/views", {"sku": COAT})
    running.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{TAN_BOOT}")
    assert eventually(running.dealt_with_everything, 10)  # all before any kiosk: nobody there to push them to
    yield running
    running.stop()


@pytest.fixture
def kiosk(tmp_path: Path, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path],
          emulator: TagEmulator) -> Iterator[Kiosk]:
    running = Kiosk(tmp_path, mosquitto.url, hq_key[1], emulator)
    yield running
    running.stop()


def test_a_change_made_on_the_web_reaches_the_kiosk_where_the_shopper_stands(hq: Hq, kiosk: Kiosk,
                                                                            token: str) -> None:
    kiosk.sign_in(hq, token)
    assert kiosk.visit.wishlist == {TAN_BOOT}
    hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}")
    assert eventually(lambda: BOOT in kiosk.visit.wishlist, 10)
    hq.call("DELETE", f"/v1/shoppers/{SHOPPER}/wishlist/{TAN_BOOT}")
    hq.call("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "Ana"})
    hq.call("PUT", f"/v1/shoppers/{SHOPPER}/preferences/shoe_size", {"value": "38"})
    assert eventually(lambda: len(kiosk.changes) == 4, 10)
    assert [change.kind for change in kiosk.changes] == [ChangeKind.WISHLIST_ADD, ChangeKind.WISHLIST_REMOVE,
                                                         ChangeKind.DISPLAY_NAME, ChangeKind.PREFERENCE]
    assert (kiosk.visit.wishlist, kiosk.visit.display_name, kiosk.visit.preferences) == (
        {BOOT}, "Ana", {"shoe_size": "38"})
    assert kiosk.visit.identity == SHOPPER  # still linked
    # The shopper withdraws their consent on the web: this visit's events are anonymous again.
    hq.call("PUT", f"/v1/shoppers/{SHOPPER}/consent", {"status": "revoked"})
    assert eventually(lambda: len(kiosk.changes) == 5, 10)
    assert kiosk.visit.identity is None and not kiosk.screen.call(lambda: kiosk.runtime.set_wishlist(TOTE, True))
    assert kiosk.runtime.kiosk.counters.changes_applied == 5
    assert eventually(lambda: hq.pusher.stats.pushed == 5, 10)  # counted once the broker's PUBACK is back


def test_the_kiosk_s_own_changes_are_not_echoed_back(hq: Hq, kiosk: Kiosk, token: str, sqlite_url: str,
                                                     mosquitto: Mosquitto,
                                                     hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    ingest = IngestWorker(mosquitto.url, ProfileStore(sqlite_url), verify_card=card_verifier(hq_key[0].public_key()))
    ingest.start()
    try:
        assert ingest.subscribed.wait(10)
        kiosk.sign_in(hq, token)  # and agrees here: a consent change, made at this kiosk
        assert kiosk.screen.call(lambda: kiosk.runtime.set_wishlist(BOOT, True))
        assert eventually(lambda: BOOT in hq.store.profile(SHOPPER).wishlist and hq.dealt_with_everything(), 15)
        assert hq.pusher.stats.not_echoed == 2 and hq.pusher.stats.pushed == 0
        assert kiosk.runtime.link.stats.changes_received == 0 and kiosk.changes == []
    finally:
        ingest.stop()
        ingest.store.close()


def test_a_coupon_saved_at_the_kiosk_is_in_the_api_and_the_feed(hq: Hq, kiosk: Kiosk, token: str, sqlite_url: str,
                                                                 mosquitto: Mosquitto,
                                                                 hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    hq.store.offers.merge(load_offers(demo_catalog_path().with_name(OFFERS_FILE)).offers)  # the kiosk's offers
    ingest = IngestWorker(mosquitto.url, ProfileStore(sqlite_url), verify_card=card_verifier(hq_key[0].public_key()))
    ingest.start()
    try:
        assert ingest.subscribed.wait(10)
        kiosk.sign_in(hq, token)  # a member: HQ checks their card with the visit's events
        assert kiosk.screen.call(lambda: kiosk.runtime.save_coupon(MEMBERS_OFFER))
        assert eventually(lambda: [c["offer"] for c in hq.call("GET", f"/v1/shoppers/{SHOPPER}/coupons")["coupons"]]
                          == [MEMBERS_OFFER], 10)
        saved = [c for c in hq.call("GET", "/v1/changes")["changes"] if c["kind"] == "coupon_saved"]
        assert [(c["offer"], c["channel"]) for c in saved] == [(MEMBERS_OFFER, f"kiosk:{KIOSK}")]
        assert kiosk.visit.coupons == {MEMBERS_OFFER}
    finally:
        ingest.stop()
        ingest.store.close()


@pytest.mark.parametrize("ending", ["the card again", "the idle wipe"])
def test_sign_out_and_the_idle_wipe_end_the_push(hq: Hq, tmp_path: Path, mosquitto: Mosquitto,
                                                 hq_key: tuple[Ed25519PrivateKey, Path], emulator: TagEmulator,
                                                 token: str, ending: str) -> None:
    kiosk = Kiosk(tmp_path, mosquitto.url, hq_key[1], emulator, idle_timeout_s=0.5)
    try:
        kiosk.sign_in(hq, token)
        if ending == "the card again":
            assert emulator.tap(encode_card(token))
            assert eventually(lambda: [o.kind for o in kiosk.outcomes][-1:] == [OutcomeKind.SIGNED_OUT], 10)
        else:
            assert eventually(lambda: kiosk.screen.call(kiosk.runtime.expire_idle), 10)
        assert eventually(lambda: hq.responder.stats.visits_ended == 1, 10)
        assert hq.store.presence.stay_of(SHOPPER) is None
        before = hq.pusher.stats.nobody_there
        hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}")
        assert eventually(hq.dealt_with_everything, 10)
        assert (hq.pusher.stats.nobody_there, hq.pusher.stats.pushed) == (before + 1, 0)
        assert kiosk.runtime.link.stats.changes_received == 0 and kiosk.changes == []
    finally:
        kiosk.stop()


def test_a_kiosk_whose_link_was_cut_is_pushed_to_again_once_it_is_back(hq: Hq, tmp_path: Path, mosquitto: Mosquitto,
                                                                      hq_key: tuple[Ed25519PrivateKey, Path],
                                                                      emulator: TagEmulator, token: str) -> None:
    proxy = TcpProxy(mosquitto.port)
    kiosk = Kiosk(tmp_path, f"mqtt://127.0.0.1:{proxy.port}", hq_key[1], emulator)
    try:
        kiosk.sign_in(hq, token)
        proxy.cut()  # the broker publishes the kiosk's last will: offline, so HQ forgets where the shopper stood
        assert eventually(lambda: hq.responder.stats.visits_ended == 1, 10)
        hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{TOTE}")  # while the kiosk is away
        # Back, the kiosk asks for the profile again: HQ knows where the shopper stands and pushes again.
        assert eventually(lambda: hq.responder.stats.visits_started == 2 and TOTE in kiosk.visit.wishlist, 30)
        hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}")
        assert eventually(lambda: [c.sku for c in kiosk.changes] == [BOOT], 10)
        assert kiosk.visit.wishlist == {TAN_BOOT, TOTE, BOOT}
    finally:
        kiosk.stop()
        proxy.close()


def test_an_erase_on_the_web_signs_the_shopper_out_and_wipes_the_kiosk_s_copy(hq: Hq, kiosk: Kiosk,
                                                                             token: str) -> None:
    kiosk.sign_in(hq, token)
    assert kiosk.runtime.profiles.get(SHOPPER) is not None
    hq.call("DELETE", f"/v1/shoppers/{SHOPPER}")  # pushed to the kiosk, and the fleet's forget order too
    assert eventually(lambda: kiosk.visit.shopper is None and hq.store.presence.stay_of(SHOPPER) is None, 10)
    # The erase is pushed as well; whichever of the two comes second finds no visit left to end.
    counters = kiosk.runtime.kiosk.counters
    assert eventually(lambda: counters.changes_applied + counters.changes_not_for_this_visit == 1, 10)
    assert eventually(lambda: hq.pusher.stats.pushed == 1 and kiosk.runtime.profiles.get(SHOPPER) is None, 10)
    # Both have arrived; what each queued for the screen is done once the screen has run one more thing.
    kiosk.screen.call(lambda: None)
    assert [o.kind for o in kiosk.outcomes if o.kind is OutcomeKind.SIGNED_OUT] == [OutcomeKind.SIGNED_OUT]
    assert kiosk.changes == []


def test_hq_started_again_on_its_database_resumes_the_push_without_loss_or_repeats(
        mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path], hq: Hq, kiosk: Kiosk,
        token: str) -> None:
    kiosk.sign_in(hq, token)
    hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}")
    # The kiosk may apply the push before the pusher keeps its cursor: wait for both.
    assert eventually(lambda: len(kiosk.changes) == 1 and hq.dealt_with_everything(), 10)
    first = hq.pusher.stats.cursor
    hq.stop()
    # While HQ's pusher is down, the web shop's changes are stored (by another HQ process).
    other = ProfileStore(sqlite_url)
    for seq, sku in enumerate((TOTE, COAT), 1):
        other.record_many([new_event(kind=EventKind.WISHLIST_ADD, store="online", kiosk="web", seq=seq,
                                     session=uuid.uuid4(), shopper=SHOPPER, sku=sku,
                                     hlc=str(Hlc(2 * 10**12 + seq, 0, "hq-api")))])
    other.close()
    again = Hq(mosquitto.url, sqlite_url, hq_key[0])
    try:
        assert again.pusher.stats.resumed_from == first  # from where it was, not from the log's end
        assert eventually(lambda: len(kiosk.changes) == 3 and again.dealt_with_everything(), 10)
        assert [c.sku for c in kiosk.changes] == [BOOT, TOTE, COAT]
        assert kiosk.visit.wishlist == {TAN_BOOT, BOOT, TOTE, COAT}
        # An HQ that died after the broker took a push but before it kept its cursor pushes it again:
        # the kiosk has that cursor already, and drops it.
        again.pusher.stop()
        again.store.presence.keep_cursor("hq", first - 1)
        replay = ProfilePusher(again.store, again.responder, poll_s=0.02)
        replay.start()
        assert eventually(lambda: kiosk.runtime.kiosk.counters.changes_repeated == 3, 10)
        replay.stop()
        assert (kiosk.runtime.link.stats.changes_received, kiosk.runtime.kiosk.counters.changes_applied) == (6, 3)
        assert len(kiosk.changes) == 3
    finally:
        again.stop()


def test_forged_oversized_and_malformed_pushes_change_nothing(hq: Hq, kiosk: Kiosk, token: str,
                                                              mosquitto: Mosquitto) -> None:
    kiosk.sign_in(hq, token)
    topic = kiosk_topics(STORE, KIOSK).profile_changes
    well_formed = ProfileChange(cursor=10**9, session=kiosk.visit.id, kind=ChangeKind.WISHLIST_ADD, sku=BOOT,
                                hlc="001900000000000-000000-hq-api").model_dump_json(exclude_none=True).encode()
    attacker = new_client(BrokerUrl.parse(mosquitto.url), "anyone", persistent=False)  # no ACL on this broker
    connected = threading.Event()
    attacker.on_connect = lambda *_args: connected.set()
    connect_async(attacker, BrokerUrl.parse(mosquitto.url), persistent=False)
    attacker.loop_start()
    try:
        assert connected.wait(10)
        for payload in (
            well_formed + b" " * ProfileChange.max_bytes,  # over the size cap: refused unread
            b"{not json",
            well_formed.replace(b'"wishlist_add"', b'"erase"'),  # an erase does not carry a SKU
            well_formed.replace(str(kiosk.visit.id).encode(), str(uuid.uuid4()).encode()),  # for another visit
        ):
            attacker.publish(topic, payload, qos=1).wait_for_publish(5)
        assert eventually(lambda: kiosk.runtime.link.stats.changes_refused == 3 and
                          kiosk.runtime.kiosk.counters.changes_not_for_this_visit == 1, 10)
    finally:
        attacker.disconnect()
        attacker.loop_stop()
    assert kiosk.runtime.link.stats.rejected_messages == 3 and kiosk.runtime.kiosk.counters.changes_applied == 0
    assert kiosk.visit.wishlist == {TAN_BOOT} and kiosk.visit.shopper == SHOPPER and kiosk.changes == []


# Kiosk B, under the generated TLS and ACL config, hears nothing of the shopper at kiosk A.

class Listener:
    """A test client of the broker: records what it receives."""

    def __init__(self, url: str) -> None:
        broker = BrokerUrl.parse(url)
        self.received: list[tuple[str, bytes]] = []
        self.subacks: list[object] = []
        self.client = new_client(broker, broker.username or "listener")
        self.client.on_message = lambda c, u, m: self.received.append((m.topic, bytes(m.payload)))
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.subacks.append(reasons)
        connect_async(self.client, broker)
        self.client.loop_start()
        assert eventually(self.client.is_connected, 10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_kiosk_b_hears_nothing_of_the_shopper_at_kiosk_a_and_cannot_end_their_push(
        tmp_path: Path, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path], token: str) -> None:
    security = BrokerSecurity(tmp_path / "broker-security")
    security.init("Madrid Centro", ["127.0.0.1"])
    logins = {"a": security.provision_kiosk(STORE, "kiosk-a"), "b": security.provision_kiosk(STORE, "kiosk-b"),
              **security.provision_hq(workers=1)}
    broker = Mosquitto(tmp_path, listener=lambda port: security.mosquitto_conf(port, "127.0.0.1"))
    broker.start()

    def url(who: str) -> str:
        return logins[who].broker_url("127.0.0.1", broker.port, security.ca_cert)

    store = ProfileStore(sqlite_url)
    responder = ProfileResponder(url("profiles"), store, card_verifier(hq_key[0].public_key()))
    pusher = ProfilePusher(store, responder, poll_s=0.02)
    pushed_to_a: list[ProfileChange] = []
    kiosk_a = KioskLink(url("a"), STORE, "kiosk-a", Outbox(tmp_path / "outbox.sqlite"),
                        on_profile_change=pushed_to_a.append)
    a, b = kiosk_topics(STORE, "kiosk-a"), kiosk_topics(STORE, "kiosk-b")
    kiosk_b = Listener(url("b"))
    try:
        responder.start()
        assert responder.subscribed.wait(10)
        pusher.start()
        kiosk_a.start()
        assert kiosk_a.subscribed.wait(10)
        visit = uuid.uuid4()
        assert kiosk_a.request_profile(SHOPPER, token, timeout_s=10, session=visit) is not None
        kiosk_b.client.subscribe([(a.profile_changes, 1), (b.profile_changes, 1), ("kiosk/+/+/profile/#", 1)])
        assert eventually(lambda: bool(kiosk_b.subacks), 10)  # granted: Mosquitto filters each delivery instead
        # Kiosk B tries to end kiosk A's push; the broker takes the message and passes it to no one.
        kiosk_b.client.publish(a.profile_ended, VisitEnded(session=visit).model_dump_json().encode(),
                               qos=1).wait_for_publish(5)
        kiosk_a._client.publish(a.profile_ended, b"not a visit's end")  # A's own word, after B's
        assert eventually(lambda: responder.stats.rejected == 1, 10)
        assert store.presence.stay_of(SHOPPER) is not None and responder.stats.visits_ended == 0

        store.record_many([new_event(kind=EventKind.WISHLIST_ADD, store="online", kiosk="web", seq=1,
                                     session=uuid.uuid4(), shopper=SHOPPER, sku=BOOT,
                                     hlc=str(Hlc(2 * 10**12, 0, "hq-api")))])
        assert eventually(lambda: len(pushed_to_a) == 1, 10)
        assert pushed_to_a[0].sku == BOOT and pushed_to_a[0].session == visit
        # B's own topic works: a message there is all it got (A's push, had it passed, came first),
        # once for each of its subscriptions that match.
        responder.publish(b.profile_changes, b"for b")
        assert eventually(lambda: bool(kiosk_b.received), 10)
        assert {topic for topic, _ in kiosk_b.received} == {b.profile_changes}
    finally:
        kiosk_b.close()
        kiosk_a.stop()
        pusher.stop()
        responder.stop()
        store.close()
        broker.stop()


# The real window: the welcome and the product screen's wishlist button follow, in place.

def card_skus(row: Any) -> list[str]:
    return [card.sku for card in reversed(row.children)]  # Kivy keeps children last-added first


def test_the_window_shows_a_change_made_on_the_web_in_place(xvfb_display: str, hq: Hq, mosquitto: Mosquitto,
                                                            hq_key: tuple[Ed25519PrivateKey, Path],
                                                            tmp_path: Path, token: str) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader=emulator.path,
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=hq_key[1])
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        welcome, product = app.sm.get_screen("welcome"), app.sm.get_screen("product")
        loop = asyncio.get_running_loop()

        async def web(method: str, path: str, body: object | None = None) -> None:
            await loop.run_in_executor(None, hq.call, method, path, body)

        assert await loop.run_in_executor(None, emulator.tap, encode_card(token))
        await until(lambda: welcome.has_wishlist and hq.store.presence.stay_of(SHOPPER) is not None)
        app.shopper.answer_consent(True)
        assert await loop.run_in_executor(None, emulator.tap, encode_product(SHOP_URL, BOOT))
        await until(lambda: app.sm.current == "product" and product.sku == BOOT)
        await until(lambda: not app.sm.transition.is_active)
        seen["before"] = product.wishlist_action
        cards_before = list(product.ids.suggestions.children)
        switches: list[str] = []
        app.sm.bind(current=lambda _sm, screen: switches.append(screen))

        await web("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/{BOOT}")
        await until(lambda: product.wishlist_action == "remove")
        await frames_drawn()
        seen["button"] = product.ids.wishlist_button.text
        seen["welcome_wishlist"] = card_skus(welcome.ids.wishlist)
        await web("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "Ana"})
        await until(lambda: "Ana" in welcome.ids.welcome_title.text)
        await frames_drawn()
        seen["title"] = welcome.ids.welcome_title.text
        seen["switches"], seen["screen"] = switches, app.sm.current
        seen["same_cards"] = list(product.ids.suggestions.children) == cards_before and product.sku == BOOT

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()
    assert seen["before"] == "add"
    assert seen["button"] == texts_for("es")["wishlist_remove"]
    assert seen["welcome_wishlist"] == [TAN_BOOT, BOOT]
    assert seen["title"] == greeting("Ana", "es")
    assert seen["switches"] == [] and seen["screen"] == "product" and seen["same_cards"]


def test_an_order_placed_on_the_web_is_in_the_profile_and_reaches_the_kiosk_where_the_shopper_stands(
        hq: Hq, kiosk: Kiosk, token: str) -> None:
    earlier = Order("WEB-1001", SHOPPER, "web", "online", datetime(2026, 11, 20, 10, 0, tzinfo=UTC),
                    (OrderLine(COAT, "M", 1, Decimal("129.00")),))
    hq.store.orders.place(earlier)
    assert eventually(hq.dealt_with_everything, 10)  # before the shopper is here: nobody to push it to
    kiosk.sign_in(hq, token)
    assert [o.order_id for o in kiosk.visit.orders] == ["WEB-1001"]  # in the profile the kiosk pulled
    assert kiosk.visit.orders[0].total == Decimal("129.00") and kiosk.visit.orders[0].skus == (COAT,)
    now = Order("APP-2002", SHOPPER, "app", "online", datetime.now(UTC),
                (OrderLine(BOOT, "41", 1, Decimal("89.90")), OrderLine(TOTE, "U", 2, Decimal("45.00"))))
    hq.store.orders.place(now)
    assert eventually(lambda: [c.kind for c in kiosk.changes] == [ChangeKind.ORDER_PLACED], 10)
    pushed = kiosk.changes[0].order
    assert pushed is not None and (pushed.order_id, pushed.lines, pushed.total, pushed.skus) == (
        "APP-2002", 2, Decimal("179.90"), (BOOT, TOTE))
    assert [o.order_id for o in kiosk.visit.orders] == ["APP-2002", "WEB-1001"]  # the newest first
