"""``kiosk``: the one command line of the product (demo, kiosk, broker, HQ, NFC tools)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from pathlib import Path

import click

from nfc_reader import encode_badge, encode_card, encode_product


def _wait_for_signal() -> None:
    """Block until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()


@click.group()
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """In-store NFC kiosks, their broker link and HQ."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("nfc").setLevel(level)  # nfcpy pins its own logger to INFO


@main.command()
@click.option("--broker", help="Use this broker (mqtt://host:port) instead of the embedded one.")
@click.option("--headless", is_flag=True, help="No window: tap products automatically and report.")
@click.option("--taps", default=5, show_default=True, help="Products to tap in headless mode.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Keep the demo's data here (default: temporary).")
def demo(broker: str | None, headless: bool, taps: int, data_dir: Path | None) -> None:
    """Run broker, HQ, kiosk and tag simulator on this machine."""
    from kiosk_app.demo import run_demo

    sys.exit(run_demo(broker, headless, taps, data_dir))


@main.command()
@click.option("--port", default=1883, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def broker(port: int, host: str) -> None:
    """Run the embedded MQTT broker (for demos; stores run Mosquitto)."""
    from backend_sync import EmbeddedBroker

    embedded = EmbeddedBroker(host, port)
    embedded.start()
    click.echo(f"broker ready on {embedded.url}")
    try:
        _wait_for_signal()
    finally:
        embedded.stop()


@main.group()
def hq() -> None:
    """HQ services."""


@hq.command("serve")
@click.option("--broker", required=True, help="Broker URL, mqtt://host:port.")
@click.option("--db", default="sqlite:///hq.sqlite", show_default=True, help="Profile database URL.")
@click.option("--worker-id", default="hq-ingest-1", show_default=True)
@click.option("--share-group", help="Share the subscription with other workers of this group.")
def hq_serve(broker: str, db: str, worker_id: str, share_group: str | None) -> None:
    """Ingest kiosk events into the profile database."""
    from backend_sync.hq import IngestWorker, ProfileStore

    store = ProfileStore(db)
    worker = IngestWorker(broker, store, worker_id=worker_id, share_group=share_group)
    worker.start()
    if not worker.subscribed.wait(30):
        raise click.ClickException(f"could not subscribe at {broker}")
    click.echo(f"HQ ingest ready ({broker} -> {db})")
    try:
        _wait_for_signal()
    finally:
        worker.stop()
        store.close()
        click.echo(f"HQ ingest stopped: {worker.stats}")


@main.group()
def nfc() -> None:
    """NFC tag tools."""


@nfc.command()
@click.option("--device", default="udp:127.0.0.1:54321", show_default=True, help="udp:HOST:PORT to serve on.")
@click.option("--sku", help="Emulate a product tag.")
@click.option("--card", help="Emulate a loyalty card with this signed token.")
@click.option("--staff", help="Emulate a staff badge with this signed token.")
@click.option("--shop-url", default="https://shop.example.com", show_default=True)
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a reader.")
def emulate(device: str, sku: str | None, card: str | None, staff: str | None, shop_url: str, timeout: float) -> None:
    """Present one simulated tag to a reader once."""
    from nfc_reader import TagEmulator

    if sum(x is not None for x in (sku, card, staff)) != 1:
        raise click.UsageError("give exactly one of --sku, --card, --staff")
    message = encode_product(shop_url, sku) if sku else encode_card(card) if card else encode_badge(staff or "")
    host, port = _udp_address(device)
    emulator = TagEmulator(port, host)
    try:
        if not emulator.tap(message, timeout_s=timeout):
            raise click.ClickException(f"no reader read the tag on {device} within {timeout:g} s")
    finally:
        emulator.close()
    click.echo("tag read")


@nfc.command()
@click.option("--device", required=True, help="udp:HOST:PORT the kiosk reads.")
@click.option("--catalog", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--card-token", required=True, help="Signed token of the demo loyalty card.")
def simulator(device: str, catalog: Path, card_token: str) -> None:
    """Open the tag simulator panel: virtual product tags and a loyalty card."""
    from kiosk_app.ui import run_simulator_window

    run_simulator_window(device, catalog, card_token)


def _udp_address(device: str) -> tuple[str, int]:
    try:
        kind, host, port = device.split(":")
        if kind != "udp":
            raise ValueError
        return host, int(port)
    except ValueError:
        raise click.BadParameter(f"expected udp:HOST:PORT, got {device!r}", param_hint="--device") from None
