"""``kiosk hq offers ...``: import offers into HQ's database (``_offer_import``) and list them.

The database URL comes from ``--db``, ``--db-url-file`` or ``$KIOSK_DB_URL`` like every
``kiosk hq`` command's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from backend_sync import DB_URL_ENV, secret_url_option

if TYPE_CHECKING:
    from kiosk_protocol import Offer

_DB_HELP = "Profile database URL (the one `kiosk hq serve` uses)."


@click.group()
def offers() -> None:
    """Offers: what sign tags point at and the kiosks price products under."""


@offers.command("import")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
@click.option("--master", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="HQ's master catalog (`kiosk hq catalog import --master`): the SKUs, categories, stores "
                   "and prices the offers are checked against.")
def offers_import(source: Path, db: str, master: Path) -> None:
    """Import a CSV or JSON file of offers, merged by id; a file with any problem changes nothing
    and is reported (see docs/offers.md for the columns)."""
    from hq import HqError, ProfileStore, read_offers
    from kiosk_protocol import CatalogError, load_catalog

    try:
        incoming = read_offers(source, load_catalog(master))
    except (CatalogError, HqError) as exc:
        raise click.ClickException(str(exc)) from exc
    store = ProfileStore(db)
    try:
        merged = store.offers.merge(incoming)
    finally:
        store.close()
    click.echo(f"imported {len(incoming)} offers: {merged.added} added, {merged.updated} updated, "
               f"{merged.unchanged} unchanged")


@offers.command("list")
@secret_url_option("db", DB_URL_ENV, _DB_HELP, default="sqlite:///hq.sqlite")
def offers_list(db: str) -> None:
    """One line per offer HQ holds: id, state now, stores, what it applies to, discount, window, audience."""
    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        held = store.offers.all()
    finally:
        store.close()
    now = datetime.now(UTC)
    for offer in held:
        click.echo(offer_line(offer, now))
    if not held:
        click.echo("no offers")


def offer_line(offer: Offer, now: datetime) -> str:
    """``WINTER-BOOTS  running  madrid-centro,barcelona-diagonal  category footwear/boots  20% off  ...``."""
    from kiosk_protocol import DiscountKind

    applies = f"category {offer.category}" if offer.category is not None else f"skus {','.join(offer.skus)}"
    value = offer.discount.value
    discount = {DiscountKind.PERCENT: f"{value.normalize():f}% off", DiscountKind.AMOUNT: f"{value} off",
                DiscountKind.PRICE: f"price {value}"}[offer.discount.kind]
    window = f"{offer.starts.isoformat()} .. {offer.ends.isoformat()}"
    limit = f" (x{offer.per_shopper} per shopper)" if offer.per_shopper > 1 else ""
    return "  ".join([offer.id, offer.state(now).value, ",".join(offer.stores), applies, discount, window,
                      offer.audience.value + limit])


# ``--offers-db`` and ``--offers-db-url-file`` of ``kiosk hq catalog publish``: no environment
# variable of its own, so a profile database in $KIOSK_DB_URL never puts offers in a bundle unasked.
offers_db_option = secret_url_option(
    "offers_db", "KIOSK_OFFERS_DB_URL", "HQ's database of offers (`kiosk hq offers import --db`): the bundle gets "
    "offers.json with the offers that run in its stores (ended ones of the last year too, so a sign left up says "
    "when its offer ended). Without it the bundle has no offers.",
    required=False)


def selected_offers(db: str) -> list[Offer]:
    """Every offer in the database at ``db``; the publisher keeps those its bundle's stores run."""
    from hq import ProfileStore

    store = ProfileStore(db)
    try:
        return store.offers.all()
    finally:
        store.close()
