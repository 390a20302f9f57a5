"""``kiosk``: the one command line of the product (demo, kiosk, broker, HQ, NFC tools)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from kiosk_app._signals import wait_for_signal
from kiosk_app.cli_hq import hq
from kiosk_app.cli_nfc import nfc
from kiosk_app.cli_recommender import recommender


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
        wait_for_signal()
    finally:
        embedded.stop()


main.add_command(hq)
main.add_command(nfc)
main.add_command(recommender)
