"""What the phone pages show, worked out from HQ's catalog: plain Python, no HTTP.

Prices and stock are a store's when the page names one (the visit's store, or a
product page's ``?store=``), the catalog's own price and the stores that have it when not.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from kiosk_protocol import Catalog, CatalogError, Product, format_price, image_file, load_catalog

log = logging.getLogger(__name__)

ONE_SIZE = "U"  # the catalog's size of a product that comes in one size
IMAGES_PATH = "phone/images/"


class CatalogFile:
    """HQ's master catalog file (``kiosk hq catalog import --master``), read again when it changes.

    An import replaces the file whole, so a changed file is a new catalog; one that cannot
    be read leaves the pages on the last good one (logged).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = Lock()
        self._seen = self._stamp()
        self._catalog, self._images = self._read()  # raises CatalogError: HQ does not start on a bad file

    def current(self) -> Catalog:
        """The catalog as the file holds it now."""
        stamp = self._stamp()
        if stamp is not None and stamp != self._seen:
            with self._lock:
                if stamp != self._seen:
                    try:
                        self._catalog, self._images = self._read()
                    except CatalogError as exc:
                        log.error("phone pages stay on the catalog they had: %s", exc)
                    self._seen = stamp
        return self._catalog

    def image(self, name: str) -> Path | None:
        """The file of the image ``images/<name>`` when a product of the catalog shows it, else None."""
        image = f"images/{name}"
        self.current()
        if image not in self._images:
            return None
        path = image_file(self.path, image)
        return path if path is not None and path.is_file() else None

    def _read(self) -> tuple[Catalog, frozenset[str]]:
        catalog = load_catalog(self.path)
        return catalog, frozenset(product.image for product in catalog.products)

    def _stamp(self) -> tuple[int, int, int] | None:
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return status.st_ino, status.st_mtime_ns, status.st_size


@dataclass(frozen=True)
class SizeLine:
    """One size and what is left of it in the page's store."""

    size: str
    stock: str
    sold_out: bool


@dataclass(frozen=True)
class ProductCard:
    """A product as a list on the visit page shows it."""

    sku: str
    brand: str
    name: str
    price: str
    image: str  # relative to the site's root
    href: str  # the product page, relative to the site's root
    note: str  # stock in the store, or where it is in stock


@dataclass(frozen=True)
class ProductDetail:
    """The product page: the card and the rest."""

    card: ProductCard
    colour: str
    description: str
    sizes_title: str
    sizes: tuple[SizeLine, ...]


def store_name(catalog: Catalog, store: str | None) -> str | None:
    """The display name of ``store``, or None when the catalog has no such store."""
    return next((s.name for s in catalog.stores if s.id == store), None)


def product_card(product: Product, catalog: Catalog, store: str | None, language: str,
                 texts: dict[str, str]) -> ProductCard:
    """``product`` priced for ``store`` (its base price without one) in ``language``."""
    here = store if store_name(catalog, store) else None
    query = f"?store={here}&lang={language}" if here else f"?lang={language}"
    return ProductCard(
        sku=product.sku, brand=product.brand, name=product.name.get(language),
        price=format_price(product.price_in(here) if here else product.price, catalog.currency, language),
        image=IMAGES_PATH + product.image.removeprefix("images/"), href=f"p/{product.sku}{query}",
        note=_availability(product, catalog, here, texts))


def product_detail(product: Product, catalog: Catalog, store: str | None, language: str,
                   texts: dict[str, str]) -> ProductDetail:
    """Everything the product page shows of ``product``."""
    name = store_name(catalog, store)
    sizes: tuple[SizeLine, ...] = ()
    title = ""
    if store and name and product.sold_in(store):
        sizes = tuple(SizeLine(texts["one_size"] if size == ONE_SIZE else size, _units(units, texts), units == 0)
                      for size, units in product.stock_in(store).items())
        title = (texts["one_size_at"] if product.sizes == (ONE_SIZE,) else texts["sizes_at"]).format(store=name)
    return ProductDetail(card=product_card(product, catalog, store, language, texts),
                         colour=texts["colour"].format(colour=product.colour.get(language)),
                         description=product.description.get(language), sizes_title=title, sizes=sizes)


def _units(units: int, texts: dict[str, str]) -> str:
    if units == 0:
        return texts["sold_out"]
    return texts["stock_one"] if units == 1 else texts["stock_units"].format(count=units)


def _availability(product: Product, catalog: Catalog, store: str | None, texts: dict[str, str]) -> str:
    """In ``store``: how many are left of a one-size product, in how many sizes another is (or that
    it is not sold there); without a store: where it is in stock."""
    if store:
        if not product.sold_in(store):
            return texts["not_sold_at"].format(store=store_name(catalog, store))
        stock = product.stock_in(store)
        if product.sizes == (ONE_SIZE,):
            return _units(stock[ONE_SIZE], texts)
        in_stock = sum(1 for units in stock.values() if units)
        return texts["in_sizes"].format(count=in_stock, total=len(stock)) if in_stock else texts["sold_out_here"]
    stocked = [s.name for s in catalog.stores if product.sold_in(s.id) and any(product.stock_in(s.id).values())]
    return texts["in_stock_at"].format(stores=", ".join(stocked)) if stocked else texts["in_no_store"]
