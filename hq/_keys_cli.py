"""``kiosk hq`` commands that give the fleet its keys: the broker's CA and certificate, each
kiosk's and HQ connection's broker credentials, and HQ's signing key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from hq import BrokerSecurity, Credentials

@click.command("init-broker")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="Where HQ keeps the CA.")
@click.option("--name", required=True, help="Store or region the broker serves.")
@click.option("--host", "hosts", multiple=True, required=True, help="Broker host name or IP (repeat).")
@click.option("--port", default=8883, show_default=True)
def init_broker(directory: Path, name: str, hosts: tuple[str, ...], port: int) -> None:
    """Create a broker's CA and TLS certificate and print its Mosquitto listener config."""
    from hq import BrokerSecurity

    security = BrokerSecurity(directory)
    security.init(name, list(hosts))
    click.echo(security.mosquitto_conf(port), nl=False)


_OUT_HELP = ("Write the URL (it holds the password) to this file, readable by its owner only, "
             "instead of printing it.")


@click.command("provision-kiosk")
@click.argument("kiosk")
@click.option("--store", required=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="The broker's directory.")
@click.option("--host", required=True, help="Broker host the kiosk connects to.")
@click.option("--port", default=8883, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help=_OUT_HELP)
def provision_kiosk(kiosk: str, store: str, directory: Path, host: str, port: int, out: Path | None) -> None:
    """Give KIOSK its own broker credentials and confine it to its own topics.

    Writes the kiosk's broker URL to --out (or prints it): it holds the password, store it
    only on the kiosk and give it to `kiosk run --broker-url-file`. Reload Mosquitto
    afterwards (SIGHUP) to apply the new password file and ACL.
    """
    _save_credentials(directory, host, port, out, lambda security: security.provision_kiosk(store, kiosk))


@click.command("provision-service")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="The broker's directory.")
@click.option("--host", required=True, help="Broker host the service connects to.")
@click.option("--port", default=8883, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help=_OUT_HELP)
def provision_service(name: str, directory: Path, host: str, port: int, out: Path | None) -> None:
    """Give one HQ connection broker credentials of its own; writes (or prints) its URL.

    `kiosk hq serve` holds several connections: give it `provision-hq`'s folder instead.
    """
    _save_credentials(directory, host, port, out, lambda security: security.provision_service(name))


@click.command("provision-hq")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="The broker's directory.")
@click.option("--host", required=True, help="Broker host HQ connects to.")
@click.option("--port", default=8883, show_default=True)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Ingest workers `kiosk hq serve --workers` will run.")
@click.option("--credentials", "credentials_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write HQ's credentials to (one 0600 file per connection).")
@click.option("--name", default="hq", show_default=True,
              help="This HQ machine's logins are <name>-ingest-1, <name>-profiles...: one name per HQ machine.")
def provision_hq(directory: Path, host: str, port: int, workers: int, credentials_dir: Path, name: str) -> None:
    """Give each of HQ's broker connections credentials of its own, in a folder for
    `kiosk hq serve --broker-credentials`.

    The generated Mosquitto config takes each username as its client id, so each username
    holds one connection: each ingest worker, the profile responder and the fleet view get
    their own, and admin.url serves one-shot commands (erase-profile, catalog publish).
    Reload Mosquitto afterwards (SIGHUP); restart HQ to use the new passwords.
    """
    from hq import BrokerSecurity, HqError, write_credentials_folder

    security = BrokerSecurity(directory)
    try:
        credentials = security.provision_hq(workers, name)
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    files = write_credentials_folder(credentials_dir, {name: c.broker_url(host, port, security.ca_cert)
                                                       for name, c in credentials.items()})
    click.echo(f"HQ broker credentials written to {credentials_dir}: {', '.join(f.name for f in files)}")


def _save_credentials(directory: Path, host: str, port: int, out: Path | None,
                      provision: Callable[[BrokerSecurity], Credentials]) -> None:
    from hq import BrokerSecurity, HqError
    from kiosk_protocol import SyncError, write_atomically

    security = BrokerSecurity(directory)
    try:
        credentials = provision(security)
    except (HqError, SyncError) as exc:  # SyncError: a store or kiosk id the wire contract refuses
        raise click.ClickException(str(exc)) from exc
    url = credentials.broker_url(host, port, security.ca_cert)
    if out is None:
        click.echo(url)
        return
    write_atomically(out, f"{url}\n".encode())
    click.echo(f"broker credentials of {credentials.username} written to {out}")


@click.command("keygen")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
def keygen(directory: Path) -> None:
    """Create HQ's Ed25519 key: hq_key.pem stays at HQ, hq_public_key.pem goes to every kiosk."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kiosk_protocol import public_key_to_pem

    directory.mkdir(parents=True, exist_ok=True)
    private = directory / "hq_key.pem"
    if private.exists():
        raise click.ClickException(f"{private} exists; HQ's key is never replaced by accident")
    key = Ed25519PrivateKey.generate()
    private.touch(mode=0o600)
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    (directory / "hq_public_key.pem").write_bytes(public_key_to_pem(key.public_key()))
    click.echo(f"HQ key written to {directory}")


@click.command("issue-badge")
@click.argument("staff")
@click.option("--key", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="HQ's private key (PEM).")
@click.option("--store", help="The store whose kiosks and staff page the badge opens (none: every store).")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3 * 365))
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Write the badge's signed token here, readable by its owner only (for `kiosk nfc write "
                   "--badge-file`); it is never printed.")
def issue_badge(staff: str, key: Path, store: str | None, days: int, out: Path) -> None:
    """Sign a staff badge for STAFF (a member of staff's id)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from kiosk_protocol import Role, TokenError, issue_token, write_atomically

    signing_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise click.ClickException(f"{key} is not an Ed25519 private key")
    try:
        token = issue_token(signing_key, staff, Role.STAFF, days * 24 * 3600, store=store)
    except TokenError as exc:
        raise click.BadParameter(str(exc), param_hint="--store") from None
    write_atomically(out, f"{token}\n".encode())
    click.echo(f"badge of {staff} for {f'store {store}' if store else 'every store'}, valid {days} days, "
               f"written to {out}")


KEY_COMMANDS = (init_broker, provision_kiosk, provision_service, provision_hq, keygen, issue_badge)
