"""The real kiosk window under Xvfb through a shopper's visit and a staff member's shift:
a loyalty tap shows the welcome with the profile synced from HQ, the wishlist button,
the idle timeout wiping the visit from memory and screen, staff mode behind a valid
badge or PIN (health, tag check, tag write, lock), the large-text/high-contrast mode,
touch targets and both languages.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ from these runs.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore
from kiosk_app import Mode
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.staff import pin_file, write_pin
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import (
    CommandKind,
    EventKind,
    Hlc,
    KioskCommand,
    Role,
    decode_event,
    issue_token,
    load_catalog,
    new_event,
)
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator, encode_badge, encode_card, encode_product
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import until
from tests.integration.kiosk_window_steps import card_skus, kiosk_config, screenshot, settled, tap

CATALOG = load_catalog(demo_catalog_path())
SHOPPER = "shopper-0042"
TOTE, COAT, TAN_BOOT, BOOT = "BAG-TOTE-BRN", "COAT-WOOL-GRY", "BOOT-CHELSEA-TAN", "BOOT-CHELSEA-BLK"


@pytest.fixture
def hq_profiles(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[None]:
    """HQ answering profile requests for a shopper who browsed online and in another store."""
    store = ProfileStore(sqlite_url)
    web, other_store = uuid.uuid4(), uuid.uuid4()
    store.record_many([
        new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=web, shopper=SHOPPER,
                  sku=COAT),
        new_event(kind=EventKind.PRODUCT_VIEW, store="barcelona-diagonal", kiosk="kiosk-07", seq=1,
                  session=other_store, shopper=SHOPPER, sku=TOTE),
        new_event(kind=EventKind.WISHLIST_ADD, store="web", kiosk="web-shop", seq=2, session=web, shopper=SHOPPER,
                  sku=TAN_BOOT, hlc=str(Hlc(1, 0, "web"))),
    ])
    responder = ProfileResponder(mosquitto.url, store, card_verifier(hq_key[0].public_key()))
    responder.start()
    assert responder.subscribed.wait(10)
    yield
    responder.stop()
    store.close()


def test_a_loyalty_tap_shows_the_synced_profile_and_the_wishlist_button_follows_consent(
    xvfb_display: str, mosquitto: Mosquitto, hq_profiles: None, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    card = encode_card(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        welcome, product = app.sm.get_screen("welcome"), app.sm.get_screen("product")
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: product.sku == BOOT)
        seen["anonymous_wishlist"] = product.wishlist_action  # nobody to save it for
        await tap(emulator, card)
        await until(lambda: app.sm.current == "welcome" and welcome.has_recent)
        seen["recent"], seen["wishlist"] = card_skus(welcome.ids.recent), card_skus(welcome.ids.wishlist)
        seen["title"] = welcome.ids.welcome_title.text
        seen["note"] = welcome.profile_note
        app.shopper.answer_consent(True)
        seen["answer"] = welcome.ids.welcome_question.text
        await tap(emulator, encode_product(CATALOG.shop_url, TAN_BOOT))
        await until(lambda: product.sku == TAN_BOOT)
        seen["in_wishlist"] = product.ids.wishlist_button.text  # already on the wishlist from the web
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: product.sku == BOOT)
        seen["not_in_wishlist"] = product.ids.wishlist_button.text
        product.ids.wishlist_button.dispatch("on_release")
        seen["after_press"] = product.ids.wishlist_button.text
        seen["visit_wishlist"] = set(app.runtime.kiosk.session.wishlist)
        app.hide_toast()
        await until(lambda: app.root.ids.toast.opacity == 0)  # faded out
        await screenshot(app, "product-signed-in", tmp_path)
        app.sm.current = "welcome"
        await until(lambda: len(welcome.ids.wishlist.children) == 2)
        seen["wishlist_now"] = card_skus(welcome.ids.wishlist)
        events = [decode_event(m.payload, topic=m.topic) for m in app.runtime.outbox.pending()]
        seen["events"] = [(e.kind, e.sku) for e in events if e.shopper == SHOPPER]

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert seen["anonymous_wishlist"] == ""
    assert seen["title"] == "¡Hola!"  # HQ holds no name for them; their id is never shown
    assert seen["recent"] == [TOTE, COAT]  # seen in another store and online, newest first
    assert seen["wishlist"] == [TAN_BOOT] and seen["note"] == ""
    assert seen["answer"] == texts_for("es")["welcome_linked"]
    assert seen["in_wishlist"] == texts_for("es")["wishlist_remove"]
    assert seen["not_in_wishlist"] == texts_for("es")["wishlist_add"]
    assert seen["after_press"] == texts_for("es")["wishlist_remove"]
    assert seen["visit_wishlist"] == {TAN_BOOT, BOOT}
    assert seen["wishlist_now"] == [TAN_BOOT, BOOT]
    assert (EventKind.WISHLIST_ADD, BOOT) in seen["events"]


def test_the_idle_timeout_wipes_the_visit_from_memory_and_screen(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    card = encode_card(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        product = app.sm.get_screen("product")
        machine = app.runtime.kiosk.machine
        # No timeout while the visit is set up, however long a loaded machine takes over the taps.
        seen["timeout"], machine.idle_timeout_s = machine.idle_timeout_s, 3600.0
        await tap(emulator, card)
        await until(lambda: app.sm.current == "welcome")
        app.shopper.answer_consent(True)
        app.toggle_language()
        app.toggle_accessible()
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: product.sku == BOOT)
        seen["before"] = (app.runtime.kiosk.machine.mode, product.ids.product_name.text, app.language, app.text_scale)
        app.sm.bind(current=lambda sm, screen: seen.setdefault("switched_by", (screen, type(sm.transition).__name__)))
        machine.idle_timeout_s = seen["timeout"]
        await until(lambda: app.sm.current == "attract", timeout_s=10)  # nobody touched it for 1.5 s
        visit = app.runtime.kiosk.session
        seen["visit"] = (visit.shopper, visit.consented, visit.viewed, visit.wishlist)
        seen["after"] = (app.runtime.kiosk.machine.mode, product.ids.product_name.text, app.language, app.text_scale)
        seen["cards"] = len(product.ids.suggestions.children)
        seen["welcome"] = app.sm.get_screen("welcome").ids.welcome_title.text

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1], idle_timeout_s=1.5), scenario)
    finally:
        emulator.close()

    assert seen["timeout"] == 1.5
    assert seen["before"] == (Mode.SIGNED_IN, CATALOG.product(BOOT).name.get("en"), "en", 1.25)  # type: ignore[union-attr]
    assert seen["visit"] == (None, False, [], set())
    assert seen["after"] == (Mode.IDLE, "", "es", 1.0)
    assert seen["switched_by"] == ("attract", "NoTransition")  # nobody watches a wipe: no costly fade
    assert seen["cards"] == 0
    assert SHOPPER not in seen["welcome"]


def test_staff_mode_needs_a_valid_badge_or_pin_and_staff_check_write_and_lock(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1])
    write_pin(pin_file(config.data_dir), "2468")
    badge = encode_badge(issue_token(hq_key[0], "staff-0007", Role.STAFF, 600, store=config.store))
    forged = encode_badge(issue_token(Ed25519PrivateKey.generate(), "staff-0007", Role.STAFF, 600))
    shopper_as_badge = encode_badge(issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
    other_store_s = encode_badge(issue_token(hq_key[0], "staff-0009", Role.STAFF, 600, store="barcelona-diagonal"))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        staff, pad = app.sm.get_screen("staff"), app.sm.get_screen("pin")
        for refused in (forged, shopper_as_badge, other_store_s):
            await tap(emulator, refused)
            await until(lambda: app.toast_key == "toast_badge_rejected")
            seen.setdefault("refused", []).append(app.runtime.kiosk.machine.mode)
            app.hide_toast()
        app.root.ids.kiosk_label.dispatch("on_hold")  # staff held the kiosk label
        for digit in "1357":
            app.pin.key(digit)
        seen["dots"] = pad.ids.pin_dots.text
        await screenshot(app, "pin", tmp_path)
        app.pin.submit()
        seen["wrong_pin"] = (app.sm.current, pad.message)
        for digit in "2468":
            app.pin.key(digit)
        app.pin.submit()
        seen["pin_mode"] = (app.runtime.kiosk.machine.mode, app.sm.current)
        seen["pin_member"] = (app.runtime.kiosk.machine.staff_member, staff.member_text)
        app.staff.leave()
        await until(lambda: app.sm.current == "attract")
        await tap(emulator, badge)
        await until(lambda: app.sm.current == "staff")
        await until(lambda: len(staff.ids.health.children) == 6)
        seen["health"] = [(line.label_text, line.verdict_text) for line in reversed(staff.ids.health.children)]
        await tap(emulator, encode_product(CATALOG.shop_url, TOTE))  # checking a tag records nothing
        await until(lambda: TOTE in staff.checked_text)
        seen["checked"] = staff.checked_text
        seen["backlog"] = len(app.runtime.outbox)
        staff.ids.sku_input.text = "coat-wool-gry"
        staff.ids.write_button.dispatch("on_release")
        seen["waiting"] = staff.write_text
        await asyncio.get_running_loop().run_in_executor(None, emulator.tap, b"")  # a blank tag
        await until(lambda: staff.write_text.startswith("Escrita"))
        seen["written"] = (staff.write_text, emulator.ndef_message)
        staff.ids.sku_input.text = "NO-SUCH-SKU"
        staff.ids.write_button.dispatch("on_release")
        seen["unknown"] = staff.write_text
        await screenshot(app, "staff", tmp_path)
        staff.ids.lock_button.dispatch("on_release")
        seen["lock_label"] = staff.ids.lock_button.text
        staff.ids.leave_button.dispatch("on_release")
        seen["locked_screen"] = app.sm.current
        await screenshot(app, "locked", tmp_path)
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: app.toast_key == "toast_locked")
        seen["locked_backlog"] = len(app.runtime.outbox)
        await tap(emulator, badge)
        await until(lambda: app.sm.current == "staff")
        staff.ids.lock_button.dispatch("on_release")
        await tap(emulator, badge)  # the same badge again closes staff mode
        await until(lambda: app.sm.current == "attract")

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()

    assert seen["refused"] == [Mode.IDLE, Mode.IDLE, Mode.IDLE]
    assert seen["dots"] == "••••"
    assert seen["wrong_pin"] == ("pin", "PIN incorrecto. Intentos restantes: 4.")
    assert seen["pin_mode"] == (Mode.STAFF, "staff")
    assert seen["pin_member"] == (None, texts_for("es")["staff_member_pin"])  # the PIN names no one
    assert [label for label, _ in seen["health"]] == ["Lector NFC", "Conexión", "Eventos por enviar", "Catálogo",
                                                      "Almacenamiento", "Lecturas"]
    assert all(verdict == "Bien" for _, verdict in seen["health"])
    assert seen["checked"].endswith(f"{TOTE}, {CATALOG.product(TOTE).name.get('es')}")  # type: ignore[union-attr]
    assert seen["backlog"] == 0
    assert seen["waiting"] == "Acerca la etiqueta al lector…"
    assert seen["written"][1] == encode_product(CATALOG.shop_url, COAT)
    assert COAT in seen["written"][0]
    assert seen["unknown"] == "NO-SUCH-SKU no está en el catálogo de esta tienda."
    assert seen["lock_label"] == "Desbloquear quiosco"
    assert seen["locked_screen"] == "locked" and seen["locked_backlog"] == 0


def test_every_screen_reads_in_both_languages_keeps_48dp_touch_targets_and_the_accessible_mode(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    from kivy.metrics import dp
    from kivy.uix.behaviors import ButtonBehavior
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput

    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    small: list[str] = []
    texts: dict[str, set[str]] = {"es": set(), "en": set()}
    seen: dict[str, Any] = {}

    def walk(widget: Any) -> Iterator[Any]:
        yield widget
        for child in widget.children:
            yield from walk(child)

    def check_screen(app: Any, screen: str) -> None:
        for widget in walk(app.root):
            if widget.opacity == 0 or (widget.disabled and widget.height == 0):
                continue
            if isinstance(widget, ButtonBehavior | TextInput) and min(widget.size) < dp(48) - 0.5:
                small.append(f"{screen}/{app.language}/{type(widget).__name__} {widget.size}")
            if isinstance(widget, Label) and widget.text.strip():
                texts[app.language].add(widget.text)

    async def scenario(app: Any) -> None:
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: app.sm.get_screen("product").sku == BOOT)
        await screenshot(app, "product", tmp_path)
        app.go_to_attract()
        await screenshot(app, "attract", tmp_path)
        for accessible in (False, True):
            if accessible:
                app.toggle_accessible()
            for language in ("es", "en"):
                app.language = language
                for screen in ("attract", "product", "offer", "offer_unavailable", "welcome", "locked", "pin",
                               "staff"):
                    app.sm.current = screen
                    await settled(app)  # the fade between screens, then the layout in this language
                    check_screen(app, screen)
        seen["scale"], seen["ink"], seen["background"] = app.text_scale, app.pal["INK"], app.pal["BACKGROUND"]
        seen["text_font"] = app.sm.get_screen("product").ids.product_description.font_size
        app.language = "en"
        app.sm.current = "product"
        await screenshot(app, "product-accessible", tmp_path)
        app.toggle_accessible()
        seen["plain_text_font"] = app.sm.get_screen("product").ids.product_description.font_size
        app.language = "es"
        app.runtime._on_command(KioskCommand(command=CommandKind.IDENTIFY))  # as the link delivers HQ's order
        banner = app.root.ids.identify
        await until(lambda: banner.opacity > 0.5)
        seen["identify"] = banner.text

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert small == []
    assert seen["identify"] == "Este es el quiosco madrid-centro · kiosk-01"
    # Nothing shows in the other language's words (the header toggle names both languages).
    assert texts["es"] & set(texts_for("en").values()) == set()
    assert texts["en"] & set(texts_for("es").values()) == set()
    assert len(texts["es"]) > 40 and len(texts["en"]) > 40
    assert seen["scale"] == 1.25 and seen["ink"] == (0, 0, 0, 1) and seen["background"] == (1, 1, 1, 1)
    assert seen["text_font"] == pytest.approx(seen["plain_text_font"] * 1.25)
