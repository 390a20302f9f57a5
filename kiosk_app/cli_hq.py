"""``kiosk hq``: HQ services."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kiosk_app._signals import wait_for_signal

if TYPE_CHECKING:
    from backend_sync.hq import BrokerSecurity, Credentials


@click.group()
def hq() -> None:
    """HQ services."""



@hq.command("serve")
@click.option("--broker", required=True, help="Broker URL, mqtt://host:port.")
@click.option("--db", default="sqlite:///hq.sqlite", show_default=True, help="Profile database URL.")
@click.option("--hq-key", type=click.Path(exists=True, path_type=Path), required=True,
              help="HQ's public key (PEM), to check the shopper cards in profile requests and kiosk events.")
@click.option("--worker-id", default="hq-ingest-1", show_default=True)
@click.option("--share-group", help="Share the subscription with other workers of this group.")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Ingest worker processes, named <worker-id>-1..N; they share the subscription "
                   "(of --share-group, 'hq' if not given). Use PostgreSQL for more than one.")
@click.option("--api-port", type=click.IntRange(1, 65535), help="Serve the profile API and fleet dashboard here.")
@click.option("--api-host", default="127.0.0.1", show_default=True, help="Address the API listens on.")
@click.option("--api-keys", type=click.Path(exists=True, path_type=Path),
              help='JSON file of each channel\'s API key, {"web": KEY, "app": KEY, "hq": KEY}; '
                   "'hq' may use the dashboard.")
def hq_serve(broker: str, db: str, hq_key: Path, worker_id: str, share_group: str | None, workers: int,
             api_port: int | None, api_host: str, api_keys: Path | None) -> None:
    """Ingest kiosk events into the profile database, answer kiosks' profile requests and,
    with --api-port, serve the profile API and the fleet dashboard."""
    import logging

    from backend_sync import SyncError
    from backend_sync.hq import (
        ApiServer,
        FleetView,
        IngestCluster,
        IngestWorker,
        ProfileResponder,
        ProfileStore,
        create_app,
        load_api_keys,
    )
    from kiosk_app._cards import card_verifier
    from nfc_reader import public_key_from_pem

    if (api_port is None) != (api_keys is None):
        raise click.UsageError("--api-port and --api-keys go together")
    try:
        keys = load_api_keys(api_keys) if api_keys else None
    except SyncError as exc:
        raise click.ClickException(str(exc)) from exc
    if workers > 1 and db.startswith("sqlite"):
        click.echo("warning: several workers on SQLite take turns writing; use PostgreSQL", err=True)
    verify_card = card_verifier(public_key_from_pem(hq_key.read_bytes()))
    store = ProfileStore(db)
    stops: list[Callable[[], object]] = [store.close]
    try:
        if workers == 1:
            worker = IngestWorker(broker, store, worker_id=worker_id, share_group=share_group, verify_card=verify_card)
            worker.start()

            def stop_worker() -> None:
                worker.stop()
                click.echo(f"HQ ingest stopped: {worker.stats}")

            stops.append(stop_worker)
            if not worker.subscribed.wait(30):
                raise click.ClickException(f"could not subscribe at {broker}")
            pids = ""
        else:
            cluster = IngestCluster(broker, db, workers, share_group or "hq", worker_id=worker_id,
                                    log_level=logging.getLogger().getEffectiveLevel(), verify_card=verify_card)
            try:
                cluster.start()
            except SyncError as exc:
                raise click.ClickException(str(exc)) from exc
            stops.append(lambda: click.echo(f"HQ ingest stopped: {cluster.stop()}"))
            pids = f", {workers} workers (pids {', '.join(str(pid) for pid in cluster.pids.values())})"
        responder = ProfileResponder(broker, store, verify_card, client_id=f"{worker_id}-profiles")
        responder.start()

        def stop_responder() -> None:
            responder.stop()
            click.echo(f"profiles: {responder.stats}")

        stops.append(stop_responder)
        if not responder.subscribed.wait(30):
            raise click.ClickException(f"could not subscribe at {broker}")
        click.echo(f"HQ ingest ready ({broker} -> {db}){pids}")
        if api_port is not None and keys is not None:
            fleet = FleetView(broker, client_id=f"{worker_id}-fleet")
            fleet.start()
            server = ApiServer(create_app(store, keys, broker_url=broker, fleet=fleet), api_host, api_port)
            stops += [server.stop, fleet.stop]  # the fleet view ends open dashboard streams first
            server.start()
            click.echo(f"HQ API on {server.url}/v1 (OpenAPI: {server.url}/openapi.json), "
                       f"fleet dashboard on {server.url}/fleet/")
        wait_for_signal()
    finally:
        for stop in reversed(stops):
            stop()


@hq.command("export-profile")
@click.argument("shopper")
@click.option("--db", default="sqlite:///hq.sqlite", show_default=True, help="Profile database URL.")
def export_profile(shopper: str, db: str) -> None:
    """Print everything HQ holds about SHOPPER, as JSON."""
    import json

    from backend_sync.hq import ProfileStore

    store = ProfileStore(db)
    try:
        click.echo(json.dumps(store.export(shopper), ensure_ascii=False, indent=2))
    finally:
        store.close()


@hq.command("erase-profile")
@click.argument("shopper")
@click.option("--db", default="sqlite:///hq.sqlite", show_default=True, help="Profile database URL.")
@click.option("--broker", required=True, help="Broker URL, to tell every kiosk to forget the shopper.")
def erase_profile(shopper: str, db: str, broker: str) -> None:
    """Erase everything about SHOPPER at HQ and have every kiosk drop its cached copy."""
    from backend_sync import SyncError
    from backend_sync.hq import ProfileStore, tell_fleet_to_forget

    store = ProfileStore(db)
    try:
        events = store.erase(shopper)
    finally:
        store.close()
    try:
        tell_fleet_to_forget(broker, shopper)
    except SyncError as exc:
        raise click.ClickException(f"erased at HQ, but {exc}; run again to retry telling the kiosks") from exc
    click.echo(f"erased {shopper}: {events} events; every kiosk told to forget them")


@hq.command("init-broker")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="Where HQ keeps the CA.")
@click.option("--name", required=True, help="Store or region the broker serves.")
@click.option("--host", "hosts", multiple=True, required=True, help="Broker host name or IP (repeat).")
@click.option("--port", default=8883, show_default=True)
def init_broker(directory: Path, name: str, hosts: tuple[str, ...], port: int) -> None:
    """Create a broker's CA and TLS certificate and print its Mosquitto listener config."""
    from backend_sync.hq import BrokerSecurity

    security = BrokerSecurity(directory)
    security.init(name, list(hosts))
    click.echo(security.mosquitto_conf(port), nl=False)


@hq.command("provision-kiosk")
@click.argument("kiosk")
@click.option("--store", required=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="The broker's directory.")
@click.option("--host", required=True, help="Broker host the kiosk connects to.")
@click.option("--port", default=8883, show_default=True)
def provision_kiosk(kiosk: str, store: str, directory: Path, host: str, port: int) -> None:
    """Give KIOSK its own broker credentials and confine it to its own topics.

    Prints the kiosk's broker URL (it holds the password: store it only on the kiosk).
    Reload Mosquitto afterwards (SIGHUP) to apply the new password file and ACL.
    """
    _print_credentials(directory, host, port, lambda security: security.provision_kiosk(store, kiosk))


@hq.command("provision-service")
@click.argument("name")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="The broker's directory.")
@click.option("--host", required=True, help="Broker host the service connects to.")
@click.option("--port", default=8883, show_default=True)
def provision_service(name: str, directory: Path, host: str, port: int) -> None:
    """Give an HQ service (an ingest worker, the profile API) broker credentials; prints its URL."""
    _print_credentials(directory, host, port, lambda security: security.provision_service(name))


def _print_credentials(directory: Path, host: str, port: int,
                       provision: Callable[[BrokerSecurity], Credentials]) -> None:
    from backend_sync import SyncError
    from backend_sync.hq import BrokerSecurity

    security = BrokerSecurity(directory)
    try:
        credentials = provision(security)
    except SyncError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(credentials.broker_url(host, port, security.ca_cert))


@hq.command("keygen")
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True)
def keygen(directory: Path) -> None:
    """Create HQ's Ed25519 key: hq_key.pem stays at HQ, hq_public_key.pem goes to every kiosk."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from nfc_reader import public_key_to_pem

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


@hq.group()
def catalog() -> None:
    """Catalog versions for the fleet."""


@catalog.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--master", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="HQ's master catalog file (created or replaced only if SOURCE is clean).")
def catalog_import(source: Path, master: Path) -> None:
    """Import a CSV or JSON catalog; a file with any problem changes nothing and is reported."""
    from backend_sync import CatalogError, load_catalog
    from backend_sync.hq import import_catalog

    try:
        template = load_catalog(master) if master.exists() else None
        imported = import_catalog(source, master, template)
    except CatalogError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {len(imported.products)} products into {master}")


@catalog.command("publish")
@click.argument("catalog_file", type=click.Path(exists=True, path_type=Path))
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="Bundle directory HQ serves.")
@click.option("--key", type=click.Path(exists=True, path_type=Path), required=True, help="HQ's private key (PEM).")
@click.option("--broker", help="Announce the new version to the fleet through this broker.")
@click.option("--stores", help="Comma-separated store ids: publish only what they need (a regional bundle).")
def catalog_publish(catalog_file: Path, directory: Path, key: Path, broker: str | None, stores: str | None) -> None:
    """Build, sign and (with --broker) announce the next catalog version."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from backend_sync import CatalogError, SyncError
    from backend_sync.hq import CatalogPublisher, announce

    signing_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise click.ClickException(f"{key} is not an Ed25519 private key")
    publisher = CatalogPublisher(directory, signing_key)
    try:
        envelope = publisher.publish(catalog_file, stores=stores.split(",") if stores else None)
        if broker:
            announce(broker, envelope)
    except (CatalogError, SyncError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"catalog version {publisher.latest_version} published in {directory}"
               + (" and announced" if broker else ""))


@hq.command("files")
@click.option("--dir", "directory", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True)
def files(directory: Path, host: str, port: int) -> None:
    """Serve published bundles to kiosks over HTTP."""
    from backend_sync.hq import FileServer

    server = FileServer(directory, host, port)
    server.start()
    click.echo(f"HQ files ready on {server.url}")
    try:
        wait_for_signal()
    finally:
        server.stop()
