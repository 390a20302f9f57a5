"""One tap end to end with every part real: emulated tag -> nfcpy reader -> Kivy window
under Xvfb -> SQLite outbox -> Mosquitto -> HQ ingest -> profile store.

Each link has its own assertion, so cutting any of them (reader, catalog, outbox,
broker, HQ) fails the test.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import IngestWorker
from kiosk_app import KioskConfig
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import ConsentStatus, Role, issue_token, load_catalog
from nfc_reader import TagEmulator, encode_card, encode_product
from testkit.kivy_window import run_kiosk_window
from testkit.mosquitto import Mosquitto
from testkit.waiting import until

CATALOG = load_catalog(demo_catalog_path())
BOOT, TOTE = CATALOG.products[0], CATALOG.products[9]


def kiosk_config(tmp_path: Path, broker: str, reader: str, hq_public_key: Path) -> KioskConfig:
    return KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader=reader,
                       broker=broker, data_dir=tmp_path / "kiosk", hq_public_key=hq_public_key)


def test_a_product_tap_shows_the_product_and_reaches_the_profile_at_hq(
    xvfb_display: str, mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = kiosk_config(tmp_path, mosquitto.url, emulator.path, hq_key[1])
    seen: dict[str, object] = {}

    async def scenario(app) -> None:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        seen["read"] = await loop.run_in_executor(None, emulator.tap, encode_product(CATALOG.shop_url, BOOT.sku))
        await until(lambda: app.sm.current == "product")
        seen["name"] = app.sm.get_screen("product").ids.product_name.text
        seen["session"] = app.runtime.kiosk.session.id
        await until(lambda: hq_ingest.store.event_count() >= 1)
        await until(lambda: len(app.runtime.outbox) == 0)
        app.root.export_to_png(str(tmp_path / "product.png"))

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()

    assert seen["read"] is True  # reader: the kiosk's nfcpy reader read the tag
    assert seen["name"] == BOOT.name.get("es")  # catalog: the product's name is on screen
    stored = hq_ingest.store.history(f"session:{seen['session']}")
    [event] = [e for e in stored if e.kind == "product_view"]  # outbox -> broker -> HQ: stored once
    assert (event.sku, event.store, event.kiosk) == (BOOT.sku, "madrid-centro", "kiosk-01")
    assert stored[0].kind == "visit_start"  # and the visit's start before it (its suggestions shown, if any, after)
    assert hq_ingest.stats.stored == len(stored) and hq_ingest.stats.rejected == 0
    assert (tmp_path / "product.png").stat().st_size > 10_000  # a real frame was drawn


def test_a_consenting_shopper_s_taps_join_their_profile(
    xvfb_display: str, mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path],
    tmp_path: Path,
) -> None:
    emulator = TagEmulator(free_port(socket.SOCK_DGRAM))
    config = kiosk_config(tmp_path, mosquitto.url, emulator.path, hq_key[1])
    card = encode_card(issue_token(hq_key[0], "shopper-0042", Role.SHOPPER, 600))
    screens: list[str] = []

    async def scenario(app) -> None:  # type: ignore[no-untyped-def]
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, emulator.tap, card)
        await until(lambda: app.sm.current == "welcome")
        screens.append(app.sm.current)
        app.shopper.answer_consent(True)
        await loop.run_in_executor(None, emulator.tap, encode_product(CATALOG.shop_url, TOTE.sku))
        await until(lambda: app.sm.current == "product")
        screens.append(app.sm.get_screen("product").ids.product_name.text)
        await until(lambda: hq_ingest.store.event_count() >= 2)  # the consent and the view

    try:
        run_kiosk_window(config, scenario)
    finally:
        emulator.close()

    assert screens == ["welcome", TOTE.name.get("es")]
    profile = hq_ingest.store.profile("shopper-0042")
    assert profile.consent is ConsentStatus.GRANTED
    assert [e.sku for e in profile.history if e.kind == "product_view"] == [TOTE.sku]
