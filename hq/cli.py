"""``kiosk hq``: HQ services."""

from __future__ import annotations

from pathlib import Path

import click

from backend_sync import BROKER_URL_ENV, DB_URL_ENV, secret_url_option, without_password
from hq._alarms_cli import alarms
from hq._keys_cli import KEY_COMMANDS
from hq._offers_cli import offers, offers_db_option, selected_offers
from hq._release_cli import release
from hq._rollout_cli import rollout
from hq._serve_cli import files, hq_serve
from hq._webhooks_cli import webhooks


class _HqGroup(click.Group):
    """HQ's commands: a database whose schema is not this release's is a plain error, naming the fix."""

    def invoke(self, ctx: click.Context) -> object:
        from hq import SchemaOutOfDate

        try:
            return super().invoke(ctx)
        except SchemaOutOfDate as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_HqGroup)
def hq() -> None:
    """HQ services."""


@hq.group("db")
def db_commands() -> None:
    """HQ's database schema: versioned, each release's changes in a migration."""


@db_commands.command("upgrade")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def db_upgrade(db: str) -> None:
    """Take HQ's database to this release's schema, from any older one (or from before versioned
    schemas), keeping every row: all of it or, on a failure, nothing. Stop HQ's processes first."""
    import sqlalchemy as sa

    from hq import upgrade_schema

    engine = sa.create_engine(db)
    try:
        was, now = upgrade_schema(engine)
    finally:
        engine.dispose()
    if was == now:
        click.echo(f"{without_password(db)}: already at revision {now}")
    else:
        click.echo(f"{without_password(db)}: upgraded from {f'revision {was}' if was else 'before versioned schemas'} "
                   f"to revision {now}")


hq.add_command(hq_serve)
hq.add_command(files)
hq.add_command(webhooks)
hq.add_command(alarms)
hq.add_command(offers)
hq.add_command(release)
hq.add_command(rollout)
for command in KEY_COMMANDS:
    hq.add_command(command)


@hq.command("new-api-keys")
@click.argument("keys_file", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("channels", nargs=-1, required=True)
def new_api_keys(keys_file: Path, channels: tuple[str, ...]) -> None:
    """Write KEYS_FILE with a fresh 256-bit key for each of CHANNELS (e.g. web app hq), readable
    by its owner only; for `kiosk hq serve --api-keys`. The keys are never printed."""
    from hq import HqError, write_new_api_keys

    try:
        write_new_api_keys(keys_file, channels)
    except HqError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"keys for {', '.join(channels)} written to {keys_file}")


@hq.command("export-profile")
@click.argument("shopper")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
def export_profile(shopper: str, db: str) -> None:
    """Print everything HQ holds about SHOPPER, as JSON."""
    import json

    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        click.echo(json.dumps(store.export(shopper), ensure_ascii=False, indent=2))
    finally:
        store.close()


@hq.command("export-events")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def export_events(db: str, out: Path) -> None:
    """Write every product view and order line HQ holds to OUT, a click log (TSV: SessionId, ItemId,
    Time, Channel, Store, Kind) for `kiosk recommender build --events OUT`. No shopper is named."""
    from sqlalchemy.exc import SQLAlchemyError

    from hq import ProfileStore
    from hq._event_export import export_events as write_events

    try:
        store = ProfileStore(db)
    except SQLAlchemyError as exc:
        raise click.ClickException(f"cannot open the profile database {without_password(db)}: "
                                   f"{type(exc).__name__}") from exc
    try:
        written = write_events(store.engine, out)
    except (SQLAlchemyError, OSError) as exc:
        raise click.ClickException(f"no events exported to {out}: {exc}") from exc
    finally:
        store.close()
    click.echo(f"exported {written} from {without_password(db)} to {out}")


@hq.command("erase-profile")
@click.argument("shopper")
@secret_url_option("db", DB_URL_ENV, "Profile database URL.", default="sqlite:///hq.sqlite")
@secret_url_option("broker", BROKER_URL_ENV, "Broker URL, to tell every kiosk to forget the shopper "
                   "(the admin.url of HQ's credentials folder).")
def erase_profile(shopper: str, db: str, broker: str) -> None:
    """Erase everything about SHOPPER at HQ and have every kiosk drop its cached copy."""
    from hq import ProfileStore, tell_fleet_to_forget
    from kiosk_protocol import SyncError

    store = ProfileStore(db)
    try:
        if not store.has_profile(shopper) and not store.is_erased(shopper):  # no tombstone for a stranger
            raise click.ClickException(f"HQ holds no profile for {shopper!r}; nothing erased")
        events = store.erase(shopper)
    finally:
        store.close()
    try:
        tell_fleet_to_forget(broker, shopper)
    except SyncError as exc:
        raise click.ClickException(f"erased at HQ, but {exc}; run again to retry telling the kiosks") from exc
    click.echo(f"erased {shopper}: {events} events; every kiosk told to forget them")


@hq.group()
def catalog() -> None:
    """Catalog versions for the fleet."""


@catalog.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--master", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="HQ's master catalog file (created or updated only if SOURCE is clean).")
@click.option("--replace", is_flag=True,
              help="SOURCE is the whole catalog: products it does not list are removed. "
                   "Without it, SOURCE's products are merged in by SKU and the rest are kept.")
def catalog_import(source: Path, master: Path, replace: bool) -> None:
    """Import a CSV or JSON catalog; a file with any problem changes nothing and is reported."""
    from hq import HqError, import_catalog
    from kiosk_protocol import CatalogError, load_catalog

    try:
        current = load_catalog(master) if master.exists() else None
        report = import_catalog(source, master, current, replace=replace)
    except (CatalogError, HqError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {report.imported} products into {master}: {report.summary()}")


@catalog.command("publish")
@click.argument("catalog_file", type=click.Path(exists=True, path_type=Path))
@click.option("--dir", "directory", type=click.Path(path_type=Path), required=True, help="Bundle directory HQ serves.")
@click.option("--key", type=click.Path(exists=True, path_type=Path), required=True, help="HQ's private key (PEM).")
@secret_url_option("broker", BROKER_URL_ENV, "Announce the new version to the fleet through this broker "
                   "(the admin.url of HQ's credentials folder).", required=False)
@click.option("--stores", help="Comma-separated store ids: publish only what they need (a regional bundle).")
@offers_db_option
def catalog_publish(catalog_file: Path, directory: Path, key: Path, broker: str | None, stores: str | None,
                    offers_db: str | None) -> None:
    """Build, sign and (with --broker) announce the next catalog version (with --offers-db, holding
    the offers that run in its stores, ended ones of the last year included)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hq import CatalogPublisher, HqError, announce
    from kiosk_protocol import SyncError

    signing_key = serialization.load_pem_private_key(key.read_bytes(), password=None)
    if not isinstance(signing_key, Ed25519PrivateKey):
        raise click.ClickException(f"{key} is not an Ed25519 private key")
    publisher = CatalogPublisher(directory, signing_key)
    try:
        envelope = publisher.publish(catalog_file, stores=stores.split(",") if stores else None,
                                     offers=selected_offers(offers_db) if offers_db else None)
        if broker:
            announce(broker, envelope)
    except (HqError, SyncError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"catalog version {publisher.latest_version} published in {directory}"
               + (" and announced" if broker else ""))
