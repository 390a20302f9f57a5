"""The welcome in the real kiosk window under Xvfb: a shopper who looked at a product
before tapping their card and says yes sees it at once among what they looked at, with
their history from HQ, greeted by the name they gave; after a no the visit stays out of
the list; a long name is cut with an ellipsis on one line, an odd one is shown as
written, and a shopper with no name is greeted without their id.

Set KIOSK_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/welcome*.png from these runs.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import EventKind, Hlc, Role, issue_token, load_catalog, new_event
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator, encode_card, encode_product
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import until
from tests.integration.kiosk_window_steps import card_skus, kiosk_config, screenshot, settled, tap

CATALOG = load_catalog(demo_catalog_path())
TOTE, COAT, TAN_BOOT, BOOT = "BAG-TOTE-BRN", "COAT-WOOL-GRY", "BOOT-CHELSEA-TAN", "BOOT-CHELSEA-BLK"
LUCIA, LONG, ODD, NAMELESS = "shopper-0042", "shopper-0043", "shopper-0044", "shopper-0045"
NAMES = {
    LUCIA: "Lucía",
    LONG: "Maximiliana Constantinopla de la Santísima Trinidad",
    ODD: "[b]Ana[/b] {x}",  # Kivy markup and a format field, to be shown as typed
}


class NamedProfiles(ProfileStore):
    """HQ's store holding the names shoppers gave (``display_name_of`` is where HQ's names come from)."""

    def display_name_of(self, shopper: str) -> str | None:
        return NAMES.get(shopper)


@pytest.fixture
def hq_profiles(mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[None]:
    """HQ answering for shoppers who browsed online and in another store."""
    store = NamedProfiles(sqlite_url)
    events = []
    for shopper in (LUCIA, LONG, ODD, NAMELESS):
        web, other_store = uuid.uuid4(), uuid.uuid4()
        events += [
            new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=web,
                      shopper=shopper, sku=COAT),
            new_event(kind=EventKind.PRODUCT_VIEW, store="barcelona-diagonal", kiosk="kiosk-07", seq=1,
                      session=other_store, shopper=shopper, sku=TOTE),
            new_event(kind=EventKind.WISHLIST_ADD, store="web", kiosk="web-shop", seq=2, session=web,
                      shopper=shopper, sku=TAN_BOOT, hlc=str(Hlc(1, 0, "web"))),
        ]
    store.record_many(events)
    responder = ProfileResponder(mosquitto.url, store, card_verifier(hq_key[0].public_key()))
    responder.start()
    assert responder.subscribed.wait(10)
    yield
    responder.stop()
    store.close()


def card_of(hq_key: tuple[Ed25519PrivateKey, Path], shopper: str) -> bytes:
    return encode_card(issue_token(hq_key[0], shopper, Role.SHOPPER, 600))


async def sign_in(app: Any, emulator: TagEmulator, card: bytes) -> Any:
    """Tap ``card`` and wait for the welcome with the profile HQ sent (no longer loading)."""
    welcome = app.sm.get_screen("welcome")
    await tap(emulator, card)
    await until(lambda: app.sm.current == "welcome" and welcome.profile_note == "" and welcome.has_recent)
    await settled(app)
    return welcome


async def sign_out(app: Any, emulator: TagEmulator, card: bytes) -> None:
    """Tap the signed-in shopper's card again and wait for the attract screen."""
    await tap(emulator, card)
    await until(lambda: app.sm.current == "attract" and app.runtime.kiosk.session.shopper is None)


def drawn_lines(label: Any) -> list[str]:
    """The lines of text a label has laid out to draw, as drawn (after any shortening)."""
    return ["".join(word.text for word in line.words) for line in label._label._cached_lines]


def test_a_yes_shows_what_they_looked_at_before_the_card_at_once_greeted_by_name(
    xvfb_display: str, mosquitto: Mosquitto, hq_profiles: None, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: app.sm.get_screen("product").sku == BOOT)
        welcome = await sign_in(app, emulator, card_of(hq_key, LUCIA))
        seen["title"] = welcome.ids.welcome_title.text
        seen["before"] = card_skus(welcome.ids.recent)
        await screenshot(app, "welcome", tmp_path)
        welcome.ids.consent_yes.dispatch("on_release")
        seen["after"] = card_skus(welcome.ids.recent)  # at once: no wait on HQ
        seen["wishlist"] = card_skus(welcome.ids.wishlist)
        await until(lambda: app.root.ids.toast.opacity == 1)  # the "saved to your profile" note, shown in full
        await screenshot(app, "welcome-linked", tmp_path)

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert seen["title"] == "Hola, Lucía"
    assert seen["before"] == [TOTE, COAT]  # HQ's history; the boot is not linked before the answer
    assert seen["after"] == [BOOT, TOTE, COAT]  # this visit's boot first, newest first, each once
    assert seen["wishlist"] == [TAN_BOOT]


def test_after_a_no_the_visit_stays_out_and_names_long_odd_or_missing_never_break_the_greeting(
    xvfb_display: str, mosquitto: Mosquitto, hq_profiles: None, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        from kivy.uix.label import Label

        await tap(emulator, encode_product(CATALOG.shop_url, BOOT))
        await until(lambda: app.sm.get_screen("product").sku == BOOT)
        welcome = await sign_in(app, emulator, card_of(hq_key, LONG))
        welcome.ids.consent_no.dispatch("on_release")
        await settled(app)
        title = welcome.ids.welcome_title
        seen["refused"] = (card_skus(welcome.ids.recent), app.runtime.kiosk.session.identity)
        seen["long"] = (drawn_lines(title), title._label.is_shortened, title.texture_size[0], title.width)
        app.root.export_to_png(str(tmp_path / "welcome-long-name.png"))  # to look at, not for the docs
        await sign_out(app, emulator, card_of(hq_key, LONG))
        await sign_in(app, emulator, card_of(hq_key, ODD))
        seen["odd"] = (title.text, drawn_lines(title))
        await sign_out(app, emulator, card_of(hq_key, ODD))
        await sign_in(app, emulator, card_of(hq_key, NAMELESS))
        seen["nameless"] = title.text
        seen["labels"] = [widget.text for widget in app.root.walk() if isinstance(widget, Label)]

    try:
        run_kiosk_window(kiosk_config(tmp_path, mosquitto.url, emulator, hq_key[1]), scenario)
    finally:
        emulator.close()

    assert seen["refused"] == ([TOTE, COAT], None)  # the boot seen before the no is not among them
    lines, shortened, drawn_width, width = seen["long"]
    assert len(lines) == 1 and shortened and lines[0].startswith("Hola, Maximiliana") and lines[0].endswith("...")
    assert drawn_width <= width  # inside its column, however long the name
    odd_title = f"Hola, {NAMES[ODD]}"
    assert seen["odd"] == (odd_title, [odd_title])  # drawn as typed: no markup read, no field filled
    assert seen["nameless"] == texts_for("es")["welcome_title_unnamed"] == "¡Hola!"
    assert not any(NAMELESS in text for text in seen["labels"])  # never the shopper's id
