"""``kiosk hq release``: kiosk software releases signed into HQ's publish directory, for rollouts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiosk_protocol import HEALTH_WINDOW_S

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@click.group("release")
def release() -> None:
    """Kiosk software releases: signed folders of wheels that rollouts send to kiosks."""


@release.command("publish")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="HQ's publish directory (the bundle directory `kiosk hq files` serves).")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="HQ's private key (PEM).")
@click.option("--wheels", "wheels_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              required=True, help="A folder of the release's wheels: the kiosk's own (nfc_kiosk-*.whl) and any "
                                  "dependency it changes (`pip wheel --no-deps -w DIR`).")
@click.option("--label", required=True, help="The version people read, like 1.4.2.")
@click.option("--health-window", "health_window_s", default=HEALTH_WINDOW_S, show_default=True,
              type=click.IntRange(30, 3600),
              help="Seconds a kiosk has to prove the release healthy before it switches back on its own.")
@click.option("--valid-days", default=60, show_default=True, type=click.IntRange(1, 365),
              help="Days kiosks accept the signed release: a rollout must reach every kiosk within them.")
def release_publish(directory: Path, key: Path, wheels_dir: Path, label: str, health_window_s: int,
                    valid_days: int) -> None:
    """Sign the wheels of --wheels as the next release and print its number; nothing goes to any
    kiosk until a rollout (`kiosk hq rollout start`) sends it."""
    from datetime import timedelta

    from hq import HqError
    from hq._releases import SoftwarePublisher
    from kiosk_protocol import UpdateKind

    publisher = SoftwarePublisher(directory, _signing_key(key))
    try:
        publisher.publish_software(wheels_dir, label, health_window_s, timedelta(days=valid_days))
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(publisher.latest(UpdateKind.SOFTWARE))


@release.command("list")
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path), required=True,
              help="HQ's publish directory.")
def release_list(directory: Path) -> None:
    """Every release published in --dir, oldest first: number, label, health window, when, wheels."""
    from hq import HqError
    from hq._releases import published_releases

    try:
        releases = published_releases(directory)
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    if not releases:
        click.echo(f"no release is published in {directory}")
    for r in releases:
        click.echo(f"{r.version}\t{r.label}\thealth window {r.health_window_s} s\t"
                   f"published {r.published_at.isoformat(timespec='seconds')}\t"
                   f"valid until {r.expires_at.isoformat(timespec='seconds')}\t{' '.join(r.wheels)}")


def _signing_key(key: Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        signing_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
    except ValueError as exc:
        raise click.ClickException(f"{key} is not a PEM private key without a password") from exc
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise click.ClickException(f"{key} is not an Ed25519 private key")
    return signing_key
