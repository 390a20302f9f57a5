"""Asking for a size on the real kiosk window under Xvfb, with the store's desk answering over a
real Mosquitto (``store_desk``): a size touched offers a fitting room (and, signed in, a
hold to collect); the request's state shows live as staff move it on, in both languages; a
size HQ says has none free reads as sold out and cannot be chosen; the welcome lists the
shopper's reservations here and their recent orders (an order placed online while they stand
here joins it in place, through HQ's real push); staff mode lists the store's open requests
oldest first. Every
screen fits, in large text too, and every button is big enough to touch.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/product-reserve-*.png,
welcome-reservations.png and kiosk-staff-requests.png from these runs.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore
from hq._orders import Order, OrderLine
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import ReservationKind, ReservationState, Role, issue_token, load_catalog
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator, encode_badge, encode_card, encode_product
from testkit.kivy_window import run_kiosk_window
from testkit.live_hq import Hq
from testkit.mosquitto import Mosquitto
from testkit.waiting import until
from tests.integration.kiosk_window_steps import (
    kiosk_config,
    overflowing_labels,
    screenshot,
    settled,
    small_touch_targets,
    tap,
)
from tests.integration.store_desk import StoreDesk

CATALOG = load_catalog(demo_catalog_path())
STORE, SHOPPER = "madrid-centro", "shopper-0042"
BOOT, COAT = "BOOT-CHELSEA-BLK", "COAT-WOOL-GRY"
# HQ's free units: the boot's 41 has none free (the bundle says 1), its 40 one.
OTHER_REQUESTS = 4  # at other kiosks and online, older than this kiosk's
UNITS = {BOOT: {"38": 2, "39": 0, "40": 1, "41": 0, "42": 3}, COAT: {"S": 1, "M": 2, "L": 0, "XL": 1}}


@pytest.fixture
def desk(mosquitto: Mosquitto) -> Iterator[StoreDesk]:
    running = StoreDesk(mosquitto.url, STORE, UNITS)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def hq_profiles(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[None]:
    """HQ answering profile requests: the shopper bought online and at this store's till before."""
    store = ProfileStore(sqlite_url)
    for order_id, channel, where, day, lines in (
            ("web-1001", "web", "online", 20, (OrderLine(COAT, "M", 1, Decimal("189.00")),)),
            ("till-2002", "till", STORE, 27, (OrderLine(BOOT, "40", 1, Decimal("89.95")),
                                              OrderLine("BAG-TOTE-BRN", "U", 2, Decimal("59.95"))))):
        store.orders.place(Order(order_id, SHOPPER, channel, where, datetime(2026, 11, day, 12, tzinfo=UTC), lines))
    # The desk answers this store's holds: one answer per request, as from HQ.
    responder = ProfileResponder(mosquitto.url, store, card_verifier(hq_key[0].public_key()), holds=False)
    assert responder.reservations is None  # it neither subscribes to holds nor keeps a desk for them
    responder.start()
    assert responder.subscribed.wait(10)
    yield
    responder.stop()
    store.close()


def chip(app: Any, size: str) -> Any:
    return next(widget for widget in app.sm.get_screen("product").ids.sizes.children if widget.size_key == size)


def fits(app: Any) -> list[str]:
    """Whatever on the screen in view does not fit, or is too small to touch."""
    return overflowing_labels(app) + small_touch_targets(app)


def test_a_size_asked_for_a_fitting_room_shows_its_state_live_and_the_welcome_and_staff_list_it(
    xvfb_display: str, mosquitto: Mosquitto, desk: StoreDesk, hq_profiles: None,
    hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    card = encode_card(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    badge = encode_badge(issue_token(hq_key[0], "staff-0007", Role.STAFF, 600, store=STORE))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        product = app.sm.get_screen("product")
        desk.publish_level(BOOT)
        await until(lambda: app.runtime.free_units(BOOT) == UNITS[BOOT])
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: product.sku == BOOT)
        await settled(app)
        seen["hint"] = product.ids.reserve_invite.text
        seen["41"] = (chip(app, "41").stock_text, chip(app, "41").disabled)  # HQ's 0, not the bundle's 1
        chip(app, "41").dispatch("on_release")  # a sold-out chip chooses nothing
        seen["41 chosen"] = product.chosen_size
        chip(app, "40").dispatch("on_release")
        await settled(app)
        seen["chosen"] = (product.chosen_text, chip(app, "40").chosen, product.ids.collect_button.opacity,
                          product.ids.reserve_card_hint.text)
        seen["choose fits"] = fits(app)
        await screenshot(app, "product-reserve-choose", tmp_path)

        product.ids.fitting_button.dispatch("on_release")
        await until(lambda: "pedida" in product.requests_text)
        held = app.runtime.state.visit.requests[0].reservation
        desk.publish_level(BOOT)  # the unit held is not free any more
        await until(lambda: chip(app, "40").stock_text == "Agotado")
        desk.move_on(held.reservation_id, ReservationState.TAKEN, "probador 2")
        await until(lambda: "de camino a probador 2" in product.requests_text)
        seen["taken"] = product.requests_text
        seen["taken fits"] = fits(app)
        await screenshot(app, "product-reserve-fitting", tmp_path)
        app.toggle_language()
        await settled(app)
        seen["taken en"] = product.requests_text
        app.toggle_accessible()
        await settled(app)
        seen["large fits"] = fits(app)
        app.toggle_accessible()
        app.toggle_language()

        # Signed in, the same visit goes on: a hold to collect is offered too.
        await tap(emulator, card)
        await until(lambda: app.sm.current == "welcome" and app.sm.get_screen("welcome").profile_note == "")
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: app.sm.current == "product")
        chip(app, "42").dispatch("on_release")
        await settled(app)
        seen["can collect"] = (product.can_collect, product.ids.collect_button.opacity)
        product.ids.collect_button.dispatch("on_release")
        await until(lambda: "recógela en el mostrador" in product.requests_text)
        desk.publish_level(BOOT)
        await until(lambda: chip(app, "42").stock_text == "2 en tienda")
        desk.move_on(held.reservation_id, ReservationState.READY, "probador 2")
        await until(lambda: "lista en probador 2" in product.requests_text)
        seen["both"] = product.requests_text.splitlines()
        seen["collect fits"] = fits(app)
        await screenshot(app, "product-reserve-collect", tmp_path)
        app.toggle_language()
        await settled(app)
        await screenshot(app, "product-reserve-en", tmp_path)
        seen["both en"] = product.requests_text.splitlines()
        app.toggle_language()

        welcome = app.sm.get_screen("welcome")
        app.sm.current = "welcome"  # as after the card's tap: it is kept current while the visit lasts
        await settled(app)
        seen["welcome"] = welcome.reservations_text.splitlines()
        seen["orders"] = welcome.orders_text.splitlines()
        seen["welcome fits"] = fits(app)
        await screenshot(app, "welcome-reservations", tmp_path)
        app.toggle_accessible()
        await settled(app)
        seen["welcome large fits"] = fits(app)
        app.toggle_accessible()

        desk.publish_requests(others=OTHER_REQUESTS)
        await until(lambda: len(app.runtime.open_requests) == 2 + OTHER_REQUESTS)
        await tap(emulator, badge)
        await until(lambda: app.sm.current == "staff" and len(app.sm.get_screen("staff").ids.requests.children) == 5)
        await settled(app)
        staff = app.sm.get_screen("staff")
        seen["staff"] = [(line.where_text, line.product_text, line.state_text)
                         for line in reversed(staff.ids.requests.children)]
        seen["visit after staff"] = app.runtime.state.visit.requests
        seen["staff more"] = staff.requests_more
        seen["staff fits"] = fits(app)
        await screenshot(app, "kiosk-staff-requests", tmp_path)
        app.toggle_language()
        app.toggle_accessible()
        await settled(app)
        seen["staff en"] = [line.state_text for line in reversed(staff.ids.requests.children)]
        seen["staff large more"] = staff.requests_more
        seen["staff large fits"] = fits(app)

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert seen["hint"] == "Toca una talla para pedirla"
    assert seen["41"] == ("Agotado", True) and seen["41 chosen"] == ""
    assert seen["chosen"] == ("Talla 40 · queda 1", True, 0, "Con tu tarjeta también puedes reservarla para recoger.")
    assert seen["taken"] == "Probador · talla 40: de camino a probador 2"
    assert seen["taken en"] == "Fitting room · size 40: on its way to probador 2"
    assert seen["can collect"] == (True, 1)
    assert seen["both"][1] == "Probador · talla 40: lista en probador 2"  # newest first
    assert seen["both"][0].startswith("Recoger · talla 42: reservada hasta el ")
    assert seen["both en"][0].startswith("To collect · size 42: reserved until ")
    assert seen["welcome"][0] == "Botín Chelsea negro · talla 40: lista en probador 2"
    assert seen["welcome"][1].startswith("Botín Chelsea negro · talla 42: reservada hasta el")
    assert seen["orders"] == ["27 de noviembre · 2 productos · 209,85\u00a0€ · Madrid Centro",
                              "20 de noviembre · 1 producto · 189,00\u00a0€ · tienda online"]  # the newest first
    # The oldest first: online and the other kiosks' (older), then this one's; the newest is counted, not listed.
    assert [where for where, _kind, _state in seen["staff"]] == ["en la web", "kiosk-02", "kiosk-03", "kiosk-04",
                                                                 "kiosk-01"]
    assert seen["staff"][4] == ("kiosk-01", "Botín Chelsea negro · 40 · Probador", "Lista")
    assert seen["staff more"] == "y 1 más"
    assert seen["staff en"] == ["Waiting", "On it", "Waiting", "On it"] and seen["staff large more"] == "and 2 more"
    assert seen["visit after staff"] == []  # staff never see the shopper's requests as theirs
    for screen in ("choose", "taken", "large", "collect", "welcome", "welcome large", "staff",
                   "staff large"):
        assert seen[f"{screen} fits"] == [], screen
    assert [request.kind for request in desk.requests] == [ReservationKind.FITTING_ROOM, ReservationKind.COLLECT]
    assert desk.requests[1].shopper == SHOPPER


def test_an_order_placed_online_while_the_shopper_stands_here_joins_their_welcome_in_place(
    xvfb_display: str, mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    hq = Hq(mosquitto.url, sqlite_url, hq_key[0])  # HQ's real responder, pusher and API
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    card = encode_card(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        welcome = app.sm.get_screen("welcome")
        await tap(emulator, card)
        await until(lambda: welcome.profile_note == "" and hq.store.presence.stay_of(SHOPPER) is not None)
        seen["before"] = welcome.orders_text
        order = {"order_id": "web-3003", "channel": "web", "store": "online", "at": "2026-11-30T17:05:00+00:00",
                 "lines": [{"sku": COAT, "size": "M", "quantity": 1, "unit_price": "189.00"}]}
        await asyncio.get_running_loop().run_in_executor(None, hq.call, "POST", f"/v1/shoppers/{SHOPPER}/orders",
                                                         order)
        await until(lambda: bool(welcome.orders_text))
        await settled(app)
        seen["after"] = (welcome.orders_text, app.sm.current, fits(app))

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()
        hq.stop()

    assert seen["before"] == ""
    assert seen["after"] == ("30 de noviembre · 1 producto · 189,00\u00a0€ · tienda online", "welcome", [])
