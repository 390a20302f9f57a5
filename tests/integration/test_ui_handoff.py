"""The "continue on your phone" QR code on the real kiosk window under Xvfb: once HQ's
responder has signed the visit's hand-off link (over a real Mosquitto), the code carries
it, in the kiosk's language, drawn module for module; the visit's next product shows it
at once, without asking HQ again, and the kiosk records the visit's hand-off once.
(Without an answer from HQ the code keeps the product's address: test_ui_product.py.)"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import segno
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import HandoffKey, HandoffSigner, ProfileResponder, ProfileStore
from kiosk_app import KioskConfig
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import EventKind, decode_event, load_catalog
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagEmulator, encode_product
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import until

CATALOG = load_catalog(demo_catalog_path())
BOOT, TOTE = CATALOG.products[0], CATALOG.products[9]
PAGES = "https://shop.example.com"


def _drawn(texture: Any) -> list[list[bool]]:
    side = texture.width
    pixels = texture.pixels  # RGBA, bottom row first
    return [[pixels[(y * side + x) * 4] < 128 for x in range(side)] for y in range(side)][::-1]


def test_the_qr_code_carries_hq_s_link_of_the_visit(xvfb_display: str, mosquitto: Mosquitto, sqlite_url: str,
                                                    hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    store = ProfileStore(sqlite_url)
    verify = card_verifier(hq_key[0].public_key())
    key = HandoffKey.from_file(tmp_path / "handoff.key")
    responder = ProfileResponder(mosquitto.url, store, verify, handoff=HandoffSigner(key, PAGES, verify))
    responder.start()
    assert responder.subscribed.wait(10)
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=emulator.path,
                         broker=mosquitto.url, data_dir=tmp_path / "kiosk", hq_public_key=hq_key[1])
    seen: dict[str, Any] = {}

    async def scenario(app: Any) -> None:
        loop = asyncio.get_running_loop()
        screen = app.sm.get_screen("product")
        qr = screen.ids.qr_code
        await loop.run_in_executor(None, emulator.tap, encode_product(CATALOG.shop_url, BOOT.sku))
        await until(lambda: screen.sku == BOOT.sku)
        await until(lambda: qr.data.startswith(f"{PAGES}/h/"))
        seen["link"], seen["drawn"] = qr.data, _drawn(qr.texture)
        seen["session"] = str(app.runtime.kiosk.session.id)
        app.toggle_language()
        await until(lambda: qr.data.endswith("?lang=en"))
        seen["english"] = qr.data
        await loop.run_in_executor(None, emulator.tap, encode_product(CATALOG.shop_url, TOTE.sku))
        await until(lambda: screen.sku == TOTE.sku)
        seen["next_product"] = qr.data  # the same visit: its link at once
        recorded = [decode_event(m.payload, topic=m.topic) for m in app.runtime.outbox.pending()]
        seen["handoffs"] = [(str(e.session), e.shopper) for e in recorded if e.kind is EventKind.HANDOFF]

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()
        responder.stop()
        store.close()
    link = seen["link"]
    assert link.endswith("?lang=es")
    token = link.removeprefix(f"{PAGES}/h/").removesuffix("?lang=es")
    claims = key.open(token)
    assert (claims.store, claims.kiosk, str(claims.session), claims.shopper) == (
        "madrid-centro", "kiosk-01", seen["session"], None)
    assert seen["drawn"] == [[bool(m) for m in row]
                             for row in segno.make(link, error="m", micro=False).matrix_iter(border=2)]
    assert seen["english"] == link.replace("?lang=es", "?lang=en")
    assert seen["next_product"] == seen["english"]
    assert responder.stats.links_signed == 1
    # Shown three times (the product, in English, the next product): one hand-off of the visit, anonymous.
    assert seen["handoffs"] == [(seen["session"], None)]
