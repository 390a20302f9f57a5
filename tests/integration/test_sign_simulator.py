"""The demo's tag simulator window holds the demo offer's sign to a reader over nfcpy's udp driver."""

from __future__ import annotations

import asyncio
import queue
import socket

from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import load_catalog
from nfc_reader import TagKind, TagRead, TagReader
from testkit.kivy_window import frames_drawn
from testkit.waiting import until


def test_the_simulators_sign_button_taps_the_demo_offers_sign(xvfb_display: str) -> None:
    from kiosk_app.ui.simulator import DEMO_OFFER, SimulatorApp

    device = f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    app = SimulatorApp(device, demo_catalog_path(), card_token="a.b")
    reads: queue.Queue[TagRead] = queue.Queue()
    reader = TagReader(device, reads.put)
    reader.start()

    async def scenario() -> None:
        try:
            await until(lambda: app.root is not None)
            await frames_drawn()
            buttons = list(reversed(app.root.ids.buttons.children))  # Kivy keeps children newest first
            products = len(load_catalog(demo_catalog_path()).products)
            assert len(buttons) == products + 1 and "Offer sign" in buttons[-1].text  # the products come first
            buttons[-1].dispatch("on_release")
            await until(lambda: app.status_text == "tapped Offer sign")
        finally:
            app.stop()

    async def both() -> None:
        await asyncio.gather(app.async_run("asyncio"), scenario())

    try:
        asyncio.run(both())
        read = reads.get(timeout=5)
        assert (read.kind, read.offer, read.host) == (TagKind.OFFER, DEMO_OFFER, "shop.example.com")
    finally:
        reader.stop()
