"""``kiosk nfc``: NFC tag tools for staff and for the demo."""

from __future__ import annotations

from pathlib import Path

import click

from nfc_reader import encode_badge, encode_card, encode_product


@click.group()
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
