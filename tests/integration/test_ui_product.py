"""The product screen on the real kiosk window under Xvfb: a real emulated tag tap shows
the product with its suggestions and a "continue on your phone" QR code, and pressing a
suggestion shows that product.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk_app import KioskConfig
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.ui.present import featured_products, reason_text, suggestion_views
from kiosk_protocol import EventKind, decode_event, load_catalog
from nfc_reader import TagEmulator, encode_product, product_uri
from recommender import Channel, Reason, ReasonKind, Suggestion
from testkit.kivy_window import frames_drawn, run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import until

CATALOG = load_catalog(demo_catalog_path())
BOOT, TAN_BOOT, TOTE = CATALOG.products[0], CATALOG.products[1], CATALOG.products[9]
STORE = "madrid-centro"

TAPPED_BOOT = Reason(ReasonKind.TAPPED_HERE, BOOT.sku, Channel.KIOSK)
# (reason, suggested item, language, sentence): anchored reasons name the anchor product.
REASONS = [
    (TAPPED_BOOT, TAN_BOOT.sku, "es", "Porque has visto Botín Chelsea negro"),
    (TAPPED_BOOT, TAN_BOOT.sku, "en", "Because you tapped Black Chelsea boot"),
    (Reason(ReasonKind.TAPPED_HERE, TAN_BOOT.sku, Channel.KIOSK), TAN_BOOT.sku, "en", "You tapped this earlier"),
    (Reason(ReasonKind.SEEN_ONLINE, TAN_BOOT.sku, Channel.WEB), TAN_BOOT.sku, "es", "Visto en la web"),
    (Reason(ReasonKind.SEEN_ONLINE, None, Channel.WEB), TAN_BOOT.sku, "en", "Seen online"),
    (Reason(ReasonKind.SEEN_IN_ANOTHER_STORE, BOOT.sku, Channel.STORE), TAN_BOOT.sku, "en",
     "Because you looked at Black Chelsea boot in another store"),
    (Reason(ReasonKind.SIMILAR, BOOT.sku), TAN_BOOT.sku, "es", "Parecido a Botín Chelsea negro"),
    (Reason(ReasonKind.SIMILAR), TAN_BOOT.sku, "en", "Similar"),
    (Reason(ReasonKind.SIMILAR, "NO-SUCH-SKU"), TAN_BOOT.sku, "es", "Parecido"),
    (Reason(ReasonKind.POPULAR_IN_STORE), TOTE.sku, "es", "Popular en esta tienda"),
    (Reason(ReasonKind.POPULAR_IN_STORE), TOTE.sku, "en", "Popular in this store"),
    (Reason(ReasonKind.POPULAR), TOTE.sku, "en", "Popular right now"),
]


@pytest.mark.parametrize(("reason", "item", "language", "sentence"), REASONS)
def test_each_reason_reads_as_a_sentence_in_the_shopper_s_language(
    reason: Reason, item: str, language: str, sentence: str,
) -> None:
    assert reason_text(reason, item, CATALOG, language) == sentence


def test_suggestion_cards_leave_out_the_product_in_view_unknown_skus_and_repeats_and_stop_at_four() -> None:
    popular = Reason(ReasonKind.POPULAR_IN_STORE)
    skus = [BOOT.sku, "NO-SUCH-SKU", TOTE.sku, TOTE.sku, *(p.sku for p in CATALOG.products[2:8])]
    suggestions = tuple(Suggestion(sku, 1.0, popular) for sku in skus)
    cards = suggestion_views(suggestions, BOOT.sku, CATALOG, demo_catalog_path(), STORE, "en")
    assert [card.sku for card in cards] == [TOTE.sku, *(p.sku for p in CATALOG.products[2:5])]
    assert cards[0].name == TOTE.name.get("en") and cards[0].reason == "Popular in this store"


def test_featured_products_take_one_per_family_first_then_fill_up() -> None:
    families = {product.category.split("/", 1)[0] for product in CATALOG.products}
    featured = featured_products(CATALOG, count=len(families) + 2)
    assert {p.category.split("/", 1)[0] for p in featured[:len(families)]} == families
    assert len({p.sku for p in featured}) == len(families) + 2  # filled up without repeats
    assert featured_products(CATALOG, count=2) == list(featured[:2])


def dark_modules_drawn(texture: Any) -> list[list[bool]]:
    """The QR texture read back from the GPU as rows of dark modules, top row first."""
    side = texture.width
    pixels = texture.pixels  # RGBA, bottom row first
    rows = [[pixels[(y * side + x) * 4] < 128 for x in range(side)] for y in range(side)]
    return rows[::-1]


def test_a_tapped_product_shows_suggestions_a_qr_code_and_opens_a_suggestion(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = KioskConfig(store=STORE, kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=hq_key[1])
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        from kivy.config import Config

        loop = asyncio.get_running_loop()
        # Suggestions come from the content model the kiosk builds aside at start: wait for it.
        await until(lambda: app.runtime.kiosk.recommender is not None)
        seen["read"] = await loop.run_in_executor(None, emulator.tap, encode_product(CATALOG.shop_url, BOOT.sku))
        screen = app.sm.get_screen("product")
        await until(lambda: app.sm.current == "product" and screen.sku == BOOT.sku)
        # On screen in the same frame: no fade from the attract screen under way.
        seen["shown_at_once"] = not app.sm.transition.is_active and screen.parent is app.sm
        seen["multisamples"] = Config.getint("graphics", "multisamples")
        cards = list(reversed(screen.ids.suggestions.children))  # Kivy keeps children last-added first
        seen["cards"] = [(card.sku, card.name_text, card.reason_text) for card in cards]
        seen["qr_data"] = screen.ids.qr_code.data
        seen["qr_caption"] = screen.ids.phone_title.text
        seen["qr_drawn"] = dark_modules_drawn(screen.ids.qr_code.texture)
        pressed = cards[0].sku  # the screen fills its cards again for the product the press shows
        cards[0].dispatch("on_release")
        await until(lambda: screen.sku == pressed)
        seen["name_after"] = screen.ids.product_name.text
        seen["cards_after"] = tuple(card.sku for card in reversed(screen.ids.suggestions.children))
        seen["viewed"] = [event.item_id for event in app.runtime.kiosk.session.viewed]
        events = [decode_event(m.payload, topic=m.topic) for m in app.runtime.outbox.pending()]
        seen["events"] = [(e.kind, e.sku, e.beside, e.shown, e.shopper) for e in events]
        seen["taps"] = app.runtime.kiosk.counters.taps

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()

    assert seen["read"] is True
    assert seen["shown_at_once"]
    assert seen["multisamples"] == 0  # costly under a software renderer; the shapes smooth their own edges
    cards = seen["cards"]
    assert 1 <= len(cards) <= 4
    assert BOOT.sku not in [sku for sku, _, _ in cards]
    assert all(name and reason for _, name, reason in cards)
    uri = product_uri(CATALOG.shop_url, BOOT.sku)
    assert seen["qr_data"] == uri
    assert seen["qr_caption"] == "Sigue en tu móvil"
    # No QR decoder is installed: the drawn texture must be segno's own matrix for the URI,
    # module for module and the right way up (a flipped or mirrored code does not scan).
    expected = [[bool(m) for m in row] for row in segno.make(uri, error="m", micro=False).matrix_iter(border=2)]
    assert seen["qr_drawn"] == expected
    chosen = CATALOG.product(cards[0][0])
    assert chosen is not None
    assert seen["name_after"] == chosen.name.get("es")
    assert seen["viewed"] == [BOOT.sku, chosen.sku]  # the visit's history has both, for the next suggestions
    # The press is recorded as a touch beside the tapped product, anonymous, and counted as no tag tap;
    # each product screen's suggestions as they were put on screen, in screen order.
    assert seen["cards_after"]
    assert seen["events"] == [(EventKind.VISIT_START, None, None, None, None),
                              (EventKind.PRODUCT_VIEW, BOOT.sku, None, None, None),
                              (EventKind.SUGGESTION_SHOWN, None, BOOT.sku, tuple(sku for sku, _, _ in cards), None),
                              (EventKind.SUGGESTION_TAP, chosen.sku, BOOT.sku, None, None),
                              (EventKind.SUGGESTION_SHOWN, None, chosen.sku, seen["cards_after"], None)]
    assert seen["taps"] == 1


def test_the_attract_screen_fills_its_featured_cards_again_on_a_new_catalog_and_makes_none_anew(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    config = KioskConfig(store=STORE, kiosk="kiosk-01", catalog=demo_catalog_path(), reader="udp:127.0.0.1:9",
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=hq_key[1])
    seen: dict[str, Any] = {}

    def featured(app: Any) -> list[Any]:
        return list(reversed(app.sm.get_screen("attract").ids.featured.children))

    async def scenario(app: Any) -> None:
        seen["before"] = featured(app)
        app.shopper.take_catalog()  # what a catalog update's swap calls on the screen's thread
        seen["after"] = featured(app)
        seen["captions"] = [card.caption for card in seen["after"]]

    run_kiosk_window(config, scenario)

    # Cards made anew were cyclic garbage, with their photos' textures, dropped after the
    # update's gc.freeze had kept them out of every collection.
    assert seen["before"] and all(a is b for a, b in zip(seen["after"], seen["before"], strict=True))
    assert seen["captions"] == [p.name.get("es") for p in featured_products(CATALOG)]


def test_the_fade_back_to_the_attract_screen_lets_go_of_its_framebuffers_once_done(
    xvfb_display: str, mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    config = KioskConfig(store=STORE, kiosk="kiosk-01", catalog=demo_catalog_path(), reader="udp:127.0.0.1:9",
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=hq_key[1])
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        fade = app.sm.transition
        for screen in ("welcome", "attract", "welcome"):  # each switch stops (completes again) the fade before
            app.sm.current = screen
            await until(lambda: fade.is_active)
            seen.setdefault("held_while_fading", []).append(fade.fbo_in is not None)
            await until(lambda: not fade.is_active and app.sm.current_screen.parent is app.sm)
            await frames_drawn()
            seen.setdefault("held_after", []).append((fade.fbo_in, fade.fbo_out, fade.render_ctx))
        seen["shown"] = app.sm.current

    run_kiosk_window(config, scenario)

    # Kept until the next fade, they were a reference cycle of two screen-sized framebuffers that a
    # catalog update's gc.freeze took, so no collection freed them once the next fade let them go.
    assert seen["held_while_fading"] == [True, True, True]
    assert seen["held_after"] == [(None, None, None)] * 3
    assert seen["shown"] == "welcome"
