"""The commands of a store kiosk (``run``, ``staff-pin``) and of the demo (``demo``,
``broker``), which runs a kiosk and HQ on one machine.

Each imports its parts inside the command, so that ``--help`` answers at once.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from backend_sync import BROKER_URL_ENV, secret_url_option, wait_for_signal
from kiosk_app._software_slots import SOFTWARE_DIR_ENV


@click.command()
@secret_url_option("broker", BROKER_URL_ENV, "Use this broker (mqtt://host:port) instead of the embedded one.",
                   required=False)
@click.option("--headless", is_flag=True, help="No window: tap the card and products automatically, check "
              "that HQ stored them and shows them over HTTP, and report.")
@click.option("--taps", default=5, show_default=True, help="Products to tap in headless mode.")
@click.option("--data-dir", type=click.Path(path_type=Path), help="Keep the demo's data here (default: temporary).")
@click.option("--shop-url", help="The shop the demo catalog's product tags and QR codes name (its shop_url), "
                                 "and HQ signs hand-off links on. [default: HQ's own phone pages]")
def demo(broker: str | None, headless: bool, taps: int, data_dir: Path | None, shop_url: str | None) -> None:
    """Run broker, HQ, kiosk and tag simulator on this machine."""
    from kiosk_app.demo import run_demo
    from kiosk_protocol import CatalogError

    try:
        code = run_demo(broker, headless, taps, data_dir, shop_url)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    sys.exit(code)


@click.command()
@click.option("--port", default=1883, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def broker(port: int, host: str) -> None:
    """Run the embedded MQTT broker (for demos; stores run Mosquitto)."""
    from kiosk_app._broker import EmbeddedBroker

    embedded = EmbeddedBroker(host, port)
    embedded.start()
    click.echo(f"broker ready on {embedded.url}")
    try:
        wait_for_signal()
    finally:
        embedded.stop()


@click.command()
@click.option("--store", required=True, help="The store this kiosk stands in.")
@click.option("--kiosk", "kiosk_id", required=True, help="This kiosk's id within the store.")
@click.option("--catalog", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The catalog shipped with the kiosk (HQ's updates replace it).")
@click.option("--reader", default="auto", show_default=True, help="The NFC reader's path (usb:..., tty:..., udp:...).")
@secret_url_option("broker", BROKER_URL_ENV, "The store broker, mqtts://user:password@host:8883 "
                   "(`kiosk hq provision-kiosk --out` writes its file).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Outbox, profile cache, updates and the staff PIN live here.")
@click.option("--hq-key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="HQ's public key (PEM): checks cards, badges and updates.")
@click.option("--files-url", help="HQ's file server for catalog and model updates.")
@click.option("--language", type=click.Choice(["es", "en"]), default="es", show_default=True)
@click.option("--idle-timeout", type=float, default=60.0, show_default=True,
              help="Seconds without a touch or tap before a shopper's visit is wiped.")
@click.option("--window", is_flag=True, help="A window instead of full screen (for setting up).")
@click.option("--software-dir", type=click.Path(file_okay=False, path_type=Path), envvar=SOFTWARE_DIR_ENV,
              help="Take HQ's software releases into this folder (set by `kiosk supervise`, which runs them).")
def run(store: str, kiosk_id: str, catalog: Path, reader: str, broker: str, data_dir: Path, hq_key: Path,
        files_url: str | None, language: str, idle_timeout: float, window: bool, software_dir: Path | None) -> None:
    """Run this kiosk's screen, reader and link to the store broker."""
    from kiosk_app.runtime import KioskConfig
    from kiosk_app.ui import run_kiosk_window

    config = KioskConfig(store=store, kiosk=kiosk_id, catalog=catalog, reader=reader, broker=broker,
                         data_dir=data_dir, hq_public_key=hq_key, files_url=files_url, idle_timeout_s=idle_timeout,
                         software_dir=software_dir)
    run_kiosk_window(config, fullscreen=not window, language=language)


@click.command("supervise", context_settings={"ignore_unknown_options": True})
@click.option("--software-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Where HQ's software releases are installed (e.g. /var/lib/kiosk/software).")
@click.argument("kiosk_args", nargs=-1, type=click.UNPROCESSED, required=True)
def supervise_kiosk(software_dir: Path, kiosk_args: tuple[str, ...]) -> None:
    """Run the kiosk on HQ's current software release, switching back from one that fails.

    KIOSK_ARGS is the kiosk's own command, e.g. `-- run --store ...`. A release HQ sends is
    installed beside the running one and switched to when the kiosk is idle; it must pass its
    health check (window, reader, broker, a self-test tap) within its window, or the kiosk is
    switched back to the release before it, and says why.
    """
    from kiosk_app._supervisor import supervise

    software_dir.mkdir(parents=True, exist_ok=True)
    sys.exit(supervise(software_dir, kiosk_args))


@click.command("staff-pin")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="The kiosk's data directory (as given to `kiosk run`).")
@click.password_option("--pin", prompt="New staff PIN (4 to 8 digits)", help="The PIN; asked for when left out.")
def staff_pin(data_dir: Path, pin: str) -> None:
    """Set the PIN that opens staff mode on this kiosk (badges work without one)."""
    from kiosk_app.exceptions import PinError
    from kiosk_app.staff import pin_file, write_pin

    path = pin_file(data_dir)
    try:
        write_pin(path, pin)
    except PinError as exc:
        raise click.BadParameter(str(exc), param_hint="--pin") from exc
    click.echo(f"staff PIN set ({path}); restart the kiosk to use it")
