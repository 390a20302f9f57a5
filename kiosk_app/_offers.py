"""The offers a kiosk runs on: ``offers.json`` beside the catalog in use (HQ ships it in the
same signed bundle; the demo's sits beside the demo catalog)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from kiosk_protocol import OFFERS_FILE, Catalog, CatalogError, Offer, OfferList, OfferState, Product, load_offers

log = logging.getLogger(__name__)

NO_OFFERS = OfferList(offers=())


def offers_beside(catalog_file: Path) -> tuple[OfferList, str]:
    """The offers next to ``catalog_file`` and, if they could not be used, why.

    No file means no offers (a catalog from before offers); a file that does not load is
    said (the status shows it) and the kiosk runs with none rather than on a guess.
    """
    path = catalog_file.with_name(OFFERS_FILE)
    if not path.exists():
        return NO_OFFERS, ""
    try:
        return load_offers(path), ""
    except CatalogError as exc:
        log.warning("offers not used: %s", exc)
        return NO_OFFERS, str(exc)


def covered_in_stock(catalog: Catalog, offer: Offer, store: str) -> tuple[Product, ...]:
    """The products ``offer`` covers that ``store`` sells and has in stock (any size), in catalog order."""
    return tuple(product for product in catalog.products
                 if offer.covers(product) and product.sold_in(store)
                 and any(units > 0 for units in product.stock_in(store).values()))


def unavailable_reason(offer_id: str, offer: Offer | None, store: str, now: datetime, clock_trusted: bool) -> str:
    """Why a sign's offer is not on here now (for the log and the screen's small print)."""
    if not clock_trusted:
        # Neither "ended on" nor "starts on" can be told by a clock known to be wrong.
        return "offers are not shown while the kiosk's clock is behind the time HQ last signed"
    if offer is None:
        return f"no offer {offer_id} is known here"
    if not offer.runs_in(store):
        return f"offer {offer_id} does not run in this store"
    if offer.state(now) is OfferState.SCHEDULED:
        return f"offer {offer_id} starts on {offer.starts.isoformat()}"
    return f"offer {offer_id} ended on {offer.ends.isoformat()}"
