"""What the screens show, worked out from catalog data: plain Python, no Kivy.

Kept apart from the widgets so that prices, stock wording and image paths can be
tested in milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from itertools import islice
from pathlib import Path

import segno

from kiosk_app.runtime import KioskHealth
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import (
    BACKLOG_HIGH,
    Catalog,
    Discount,
    DiscountKind,
    PricedOffer,
    Product,
    format_price,
    image_file,
)
from nfc_reader import ReaderState, TagKind, TagRead, product_uri
from recommender import Reason, ReasonKind, Suggestion

log = logging.getLogger(__name__)

PLACEHOLDER_IMAGE = "images/placeholder.png"
ONE_SIZE = "U"
MAX_SUGGESTIONS = 4
# A greeting's name is cut here (and the one-line title shortens it further to its width).
GREETING_NAME_CHARS = 32
# Text keys per reason: with another product as the anchor, and about the item itself.
_REASON_KEYS: dict[ReasonKind, tuple[str, str]] = {
    ReasonKind.TAPPED_HERE: ("reason_tapped", "reason_tapped_this"),
    ReasonKind.SEEN_ONLINE: ("reason_seen_online", "reason_seen_online_this"),
    ReasonKind.SEEN_IN_ANOTHER_STORE: ("reason_seen_in_store", "reason_seen_in_store_this"),
    ReasonKind.SIMILAR: ("reason_similar", "reason_similar_this"),
    ReasonKind.POPULAR_IN_STORE: ("reason_popular_in_store", "reason_popular_in_store"),
    ReasonKind.POPULAR: ("reason_popular", "reason_popular"),
}
# The best offer for a product here now, or None (the runtime's ``offer_price``).
Pricing = Callable[[Product], PricedOffer | None]


def no_offers(_product: Product) -> PricedOffer | None:
    """Pricing where no offer applies."""
    return None


@dataclass(frozen=True)
class SizeView:
    """One size as a chip shows it."""

    size: str
    stock: str
    sold_out: bool
    key: str = ""  # the size as the catalog names it (``U``, not "One size")


@dataclass(frozen=True)
class ProductView:
    """Every text and the image the product screen shows for one product."""

    sku: str
    brand: str
    name: str
    colour: str
    price: str
    description: str
    image: str
    sizes_title: str
    sizes: tuple[SizeView, ...]
    web_address: str  # the product on the web shop, for the "continue on your phone" QR code
    elsewhere: str  # the other stores that have it in stock, or ""
    usual_price: str = ""  # under an offer: the usual price, struck through beside ``price``
    offer: str = ""  # under an offer: which one gives the price ("Botas de invierno · -20 %")


@dataclass(frozen=True)
class SuggestionView:
    """One suggestion card: the product, its price and why it is suggested."""

    sku: str
    name: str
    price: str
    image: str
    reason: str
    on_offer: str = ""  # "On offer" when an offer lowers its price here now
    usual_price: str = ""  # the usual price, struck through beside ``price`` (an offer's own cards)


def image_path(catalog_file: Path, image: str) -> str:
    """The file to show for a product's ``image``, or the placeholder when it is missing.

    ``image`` is relative to the catalog file's folder and may not leave it.
    """
    candidate = image_file(catalog_file, image)
    if candidate is not None and candidate.is_file():
        return str(candidate)
    log.warning("image %r of catalog %s not found; showing the placeholder", image, catalog_file)
    return str(catalog_file.resolve().parent / PLACEHOLDER_IMAGE)


def size_views(product: Product, store: str, language: str,
               free: dict[str, int] | None = None) -> tuple[SizeView, ...]:
    """Each size with its units in ``store`` (or HQ's ``free`` units once known), sold-out sizes spelled out."""
    texts = texts_for(language)
    views = []
    for size, units in (product.stock_in(store) if free is None else free).items():
        label = texts["size_one"] if size == ONE_SIZE else size
        stock = texts["stock_units"].format(count=units) if units > 0 else texts["stock_sold_out"]
        views.append(SizeView(label, stock, sold_out=units == 0, key=size))
    return tuple(views)


def money(amount: Decimal | float, catalog: Catalog, language: str) -> str:
    """An amount in the catalog's currency, written as shoppers write it in ``language``."""
    return format_price(float(amount), catalog.currency, language)


def discount_text(discount: Discount, catalog: Catalog, language: str) -> str:
    """What an offer takes off: "-20 %" / "20% off", "-10,00 €" / "€10.00 off", or its special price."""
    texts = texts_for(language)
    if discount.kind is DiscountKind.PERCENT:
        percent = f"{discount.value.normalize():f}"  # 20, 12.5: no trailing zeros
        return texts["offer_percent"].format(percent=percent.replace(".", "," if language == "es" else "."))
    if discount.kind is DiscountKind.AMOUNT:
        return texts["offer_amount"].format(amount=money(discount.value, catalog, language))
    return texts["offer_fixed"].format(price=money(discount.value, catalog, language))


def offer_naming(priced: PricedOffer, catalog: Catalog, language: str) -> str:
    """Which offer gives a price, and what it takes off: "Botas de invierno · -20 %"."""
    return f"{priced.offer.title.get(language)} · {discount_text(priced.offer.discount, catalog, language)}"


def product_view(product: Product, catalog: Catalog, catalog_file: Path, store: str, language: str,
                 priced: PricedOffer | None = None, free: dict[str, int] | None = None) -> ProductView:
    """The product screen's content for ``product`` in ``store``, in ``language``; under the offer
    ``priced``, the price after it beside the usual one, and which offer it is; the sizes' units
    are HQ's ``free`` ones once known."""
    texts = texts_for(language)
    one_size = product.sizes == (ONE_SIZE,)
    return ProductView(
        sku=product.sku,
        brand=product.brand,
        name=product.name.get(language),
        colour=texts["product_colour"].format(colour=product.colour.get(language)),
        price=(money(priced.price, catalog, language) if priced is not None
               else format_price(product.price_in(store), catalog.currency, language)),
        description=product.description.get(language),
        image=image_path(catalog_file, product.image),
        sizes_title=texts["product_one_size"] if one_size else texts["product_sizes"],
        sizes=size_views(product, store, language, free),
        web_address=product_uri(catalog.shop_url, product.sku),
        elsewhere=elsewhere_text(product, catalog, store, language),
        usual_price=money(priced.usual, catalog, language) if priced is not None else "",
        offer=offer_naming(priced, catalog, language) if priced is not None else "",
    )


def elsewhere_text(product: Product, catalog: Catalog, store: str, language: str) -> str:
    """"Also in stock at: ..." naming the other stores with units of ``product``, or ""."""
    names = [s.name for s in catalog.stores
             if s.id != store and product.sold_in(s.id) and any(product.stock_in(s.id).values())]
    return texts_for(language)["product_elsewhere"].format(stores=", ".join(names)) if names else ""


def reason_text(reason: Reason, item: str, catalog: Catalog, language: str) -> str:
    """Why ``item`` is suggested, as a short sentence naming the anchor product when there is one."""
    texts = texts_for(language)
    about_other, about_itself = _REASON_KEYS[reason.kind]
    anchor = catalog.product(reason.anchor) if reason.anchor and reason.anchor != item else None
    if anchor is None:
        return texts[about_itself]
    return texts[about_other].format(anchor=anchor.name.get(language))


def suggestion_views(suggestions: tuple[Suggestion, ...], in_view: str, catalog: Catalog, catalog_file: Path,
                     store: str, language: str, pricing: Pricing = no_offers) -> tuple[SuggestionView, ...]:
    """Up to four cards for ``suggestions``, leaving out the product in view and unknown SKUs; one an
    offer lowers (``pricing``) shows the price after it and says it is on offer."""
    views: list[SuggestionView] = []
    for suggestion in suggestions:
        product = catalog.product(suggestion.item_id)
        if product is None or product.sku == in_view or any(v.sku == product.sku for v in views):
            continue
        reason = reason_text(suggestion.reason, product.sku, catalog, language)
        views.append(_card(product, reason, catalog, catalog_file, store, language, pricing))
        if len(views) == MAX_SUGGESTIONS:
            break
    return tuple(views)


def _card(product: Product, reason: str, catalog: Catalog, catalog_file: Path, store: str, language: str,
          pricing: Pricing) -> SuggestionView:
    """A product's card: at its price after an offer, saying it is on offer, when one lowers it here now."""
    priced = pricing(product)
    return SuggestionView(
        sku=product.sku,
        name=product.name.get(language),
        price=(money(priced.price, catalog, language) if priced is not None
               else format_price(product.price_in(store), catalog.currency, language)),
        image=image_path(catalog_file, product.image),
        reason=reason,
        on_offer=texts_for(language)["on_offer"] if priced is not None else "",
    )


def greeting(display_name: str | None, language: str) -> str:
    """The welcome's title: "Hola, <name>" by the name the shopper gave, clipped with an
    ellipsis when long, or a greeting with no name; never the shopper's id."""
    texts = texts_for(language)
    name = " ".join((display_name or "").split())  # no runs of spaces, none at either end
    if not name:
        return texts["welcome_title_unnamed"]
    if len(name) > GREETING_NAME_CHARS:
        name = name[:GREETING_NAME_CHARS - 1].rstrip() + "…"
    return texts["welcome_title"].format(name=name)


def recent_skus(seen_in_visit: tuple[str, ...], profile_recent: tuple[str, ...]) -> tuple[str, ...]:
    """What the welcome lists as looked at: this visit's products, then the profile's, newest first, each once."""
    return tuple(dict.fromkeys((*seen_in_visit, *profile_recent)))


def profile_cards(skus: tuple[str, ...], reason_key: str, catalog: Catalog, catalog_file: Path, store: str,
                  language: str, limit: int = 3, pricing: Pricing = no_offers) -> tuple[SuggestionView, ...]:
    """Cards for a shopper's history or wishlist: products this store sells, newest first; one an offer
    lowers (``pricing``) at the price after it, saying it is on offer, as everywhere on the kiosk."""
    texts = texts_for(language)
    views: list[SuggestionView] = []
    for sku in dict.fromkeys(skus):
        product = catalog.product(sku)
        if product is None or not product.sold_in(store):
            continue
        views.append(_card(product, texts[reason_key], catalog, catalog_file, store, language, pricing))
        if len(views) == limit:
            break
    return tuple(views)


@dataclass(frozen=True)
class HealthRow:
    """One part of the kiosk on the staff screen: its name, its state in words, and whether it is well."""

    label: str
    value: str
    ok: bool
    verdict: str  # "OK" / "Check": the state is said in words, not by colour alone


def health_rows(health: KioskHealth, language: str) -> tuple[HealthRow, ...]:
    """The staff screen's health table for ``health``, in ``language``."""
    texts = texts_for(language)

    def row(label: str, value: str, ok: bool) -> HealthRow:
        return HealthRow(texts[label], value, ok, texts["staff_ok" if ok else "staff_check"])

    reader = health.reader
    reader_ok = reader.state is ReaderState.ONLINE
    reader_value = (texts["staff_reader_online"].format(device=reader.device or reader.path) if reader_ok
                    else texts["staff_reader_offline"].format(reason=" ".join(filter(None, (reader.reason,
                                                                                              reader.hint)))))
    broker_key = "staff_broker_online" if health.broker_connected else "staff_broker_offline"
    catalog_value = (texts["staff_catalog_problem"].format(version=health.catalog_version,
                                                           problem=health.update_problem)
                     if health.update_problem else texts["staff_catalog_value"].format(version=health.catalog_version))
    if health.catalog_fallback:
        catalog_value = texts["staff_catalog_fallback"].format(version=health.catalog_version,
                                                               problem=health.catalog_fallback)
    storage = [texts["staff_storage_full"].format(count=health.events_not_recorded)] if health.disk_full else []
    if health.outbox_reset:
        storage.append(texts["staff_storage_reset"].format(file=health.outbox_reset))
    return (
        row("staff_reader", reader_value, reader_ok),
        row("staff_broker", texts[broker_key].format(broker=health.broker), health.broker_connected),
        # A backlog is normal for a moment; a large one means HQ has not had the events for a while.
        row("staff_backlog", texts["staff_backlog_value"].format(count=health.backlog), health.backlog < BACKLOG_HIGH),
        row("staff_catalog", catalog_value, not (health.update_problem or health.catalog_fallback)),
        row("staff_storage", " · ".join(storage) or texts["staff_storage_ok"], not storage),
        row("staff_taps", texts["staff_taps_value"].format(taps=health.taps, unreadable=health.unreadable), True),
    )


def checked_tag_text(read: TagRead, catalog: Catalog, language: str) -> str:
    """What a tag says, for staff checking it."""
    texts = texts_for(language)
    if read.kind is TagKind.PRODUCT and read.sku:
        product = catalog.product(read.sku)
        if product is None:
            return texts["staff_checked_unknown"].format(uid=read.uid, sku=read.sku)
        return texts["staff_checked_product"].format(uid=read.uid, sku=read.sku, name=product.name.get(language))
    return texts["staff_checked_other"].format(uid=read.uid, kind=read.kind.value, reason=read.reason or "").strip()


def qr_modules(data: str, border: int = 2) -> list[list[bool]]:
    """The QR code for ``data`` as rows of dark (True) and light modules, top row first, quiet zone included."""
    # Error level M survives a scuffed or glare-struck screen; boost_error may raise it for free.
    code = segno.make(data, error="m", micro=False)
    return [[bool(module) for module in row] for row in code.matrix_iter(scale=1, border=border)]


def featured_products(catalog: Catalog, count: int = 4) -> list[Product]:
    """A varied handful for the attract screen: one per top-level category first."""
    chosen: list[Product] = []
    families: set[str] = set()
    for product in catalog.products:  # stops at ``count`` families, not at the end of 50,000 products
        family = product.category.split("/", 1)[0]
        if family not in families:
            families.add(family)
            chosen.append(product)
            if len(chosen) == count:
                return chosen
    others = (p for p in catalog.products if all(p is not c for c in chosen))
    return chosen + list(islice(others, count - len(chosen)))


def store_name(catalog: Catalog, store: str) -> str:
    """The store's display name, or its id when the catalog does not list it."""
    return next((s.name for s in catalog.stores if s.id == store), store)
