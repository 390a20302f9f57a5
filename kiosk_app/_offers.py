"""The offers a kiosk runs on: ``offers.json`` beside the catalog in use (HQ ships it in the
same signed bundle; the demo's sits beside the demo catalog)."""

from __future__ import annotations

import logging
from pathlib import Path

from kiosk_protocol import OFFERS_FILE, CatalogError, OfferList, load_offers

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
