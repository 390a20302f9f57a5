"""What the phone's offer page shows (``/o/<offer-id>``), worked out from an offer and HQ's
catalog: plain Python, no HTTP.

Prices are a store's when the page names one the offer runs in (``?store=``), the
catalog's own price when not, each after this offer's discount beside the usual one.
Dates are the offer's own (as imported, with its offset); an offer that ends at midnight
is said to run until the day before, the last day a shopper may use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from hq._phone_views import IMAGES_PATH, store_name
from kiosk_protocol import Catalog, Offer, OfferState, Product, format_price
from kiosk_protocol.offers import DiscountKind, cents

MAX_PRODUCTS = 60  # a category offer on a large catalog lists this many, cheapest after the offer first

_MONTHS = {
    "es": ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}


@dataclass(frozen=True)
class OfferProduct:
    """A product the offer covers, with its price after the offer and the usual one."""

    sku: str
    brand: str
    name: str
    price: str  # after the offer
    usual: str  # struck through beside it
    image: str  # relative to the site's root
    href: str  # the product page, relative to the site's root


@dataclass(frozen=True)
class OfferPage:
    """Everything the offer page shows of one offer, now."""

    offer_id: str
    state: OfferState
    title: str
    terms: str
    discount: str  # "20 % de descuento", "€10.00 off", "Now €49.95"
    when: str  # "Until ...", "This offer ended on ...", "This offer starts on ..."
    stores: str  # where it runs
    members_only: bool
    products: tuple[OfferProduct, ...]


def offer_page(offer: Offer, catalog: Catalog, store: str | None, now: datetime, language: str,
               texts: dict[str, str]) -> OfferPage:
    """``offer`` as its page shows it at ``now`` in ``language``; ``store`` prices it (when it runs there)."""
    state = offer.state(now)
    here = store if store and offer.runs_in(store) and store_name(catalog, store) else None
    if state is OfferState.RUNNING:
        when = texts["offer_until"].format(date=_last_day(offer.ends, language))
    elif state is OfferState.ENDED:
        when = texts["offer_ended_on"].format(date=_last_day(offer.ends, language))
    else:
        when = texts["offer_starts_on"].format(date=_moment(offer.starts, language))
    names = [store_name(catalog, s) or s for s in offer.stores]
    products = _covered(offer, catalog, here, language) if state is OfferState.RUNNING else ()
    return OfferPage(offer_id=offer.id, state=state, title=offer.title.get(language), terms=offer.terms.get(language),
                     discount=discount_words(offer, catalog.currency, language, texts), when=when,
                     stores=texts["offer_stores"].format(stores=", ".join(names)),
                     members_only=offer.for_members(), products=products)


def discount_words(offer: Offer, currency: str, language: str, texts: dict[str, str]) -> str:
    """What the offer takes off, as a shopper reads it."""
    value = offer.discount.value
    if offer.discount.kind is DiscountKind.PERCENT:
        number = f"{value.normalize():f}".replace(".", "," if language == "es" else ".")
        return texts["discount_percent"].format(percent=number)
    amount = format_price(float(value), currency, language)
    return texts["discount_amount" if offer.discount.kind is DiscountKind.AMOUNT else "discount_price"].format(
        amount=amount)


def _covered(offer: Offer, catalog: Catalog, store: str | None, language: str) -> tuple[OfferProduct, ...]:
    """The catalog's products the offer lowers the price of, sold where it runs (in ``store`` when given)."""
    where = (store,) if store else offer.stores
    priced: list[tuple[float, str, OfferProduct]] = []
    for product in catalog.products:
        if not offer.covers(product) or not any(product.sold_in(s) for s in where):
            continue
        usual = cents(product.price_in(store) if store else product.price)
        if not offer.discount.lowers(usual):
            continue  # a fixed price above this product's: no offer on it
        after = offer.discount.apply(usual)
        priced.append((float(after), product.sku, _card(product, catalog, store, language, after, usual)))
    return tuple(card for _, _, card in sorted(priced)[:MAX_PRODUCTS])


def _card(product: Product, catalog: Catalog, store: str | None, language: str, after: Decimal,
          usual: Decimal) -> OfferProduct:
    query = f"?store={store}&lang={language}" if store else f"?lang={language}"
    return OfferProduct(sku=product.sku, brand=product.brand, name=product.name.get(language),
                        price=format_price(float(after), catalog.currency, language),
                        usual=format_price(float(usual), catalog.currency, language),
                        image=IMAGES_PATH + product.image.removeprefix("images/"), href=f"p/{product.sku}{query}")


def _last_day(ends: datetime, language: str) -> str:
    """The last moment an offer ending at ``ends`` (exclusive) runs: the day before a midnight end."""
    if (ends.hour, ends.minute, ends.second, ends.microsecond) == (0, 0, 0, 0):
        return _date(ends - timedelta(days=1), language)
    return _moment(ends, language)


def _moment(at: datetime, language: str) -> str:
    """A date, with its time unless it is midnight."""
    if (at.hour, at.minute) == (0, 0):
        return _date(at, language)
    clock = f"{at.hour:02d}:{at.minute:02d}"
    return f"{_date(at, language)}, {clock}" if language == "en" else f"{_date(at, language)} a las {clock}"


def _date(at: datetime, language: str) -> str:
    month = _MONTHS["en" if language == "en" else "es"][at.month - 1]
    return f"{at.day} {month} {at.year}" if language == "en" else f"{at.day} de {month} de {at.year}"
