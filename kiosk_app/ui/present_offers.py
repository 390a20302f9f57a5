"""What the offer screens show, from an offer and the catalog: plain Python, no Kivy.

A sign tapped shows its offer (``offer_view``): what it is, what it takes off, its terms,
until when, and the products it covers in stock here with their price after it. A sign of
an offer not on here now says why in a sentence (``unavailable_text``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from babel.dates import format_date

from kiosk_app.ui.present import SuggestionView, discount_text, image_path, money
from kiosk_app.ui.texts import texts_for
from kiosk_protocol import Catalog, Offer, OfferList, OfferState, Product, cents

MAX_OFFER_CARDS = 6  # two rows of three beside the offer
# A day and month as each language writes it; the year only when it is not this year's.
_DAY_MONTH = {"es": "d 'de' MMMM", "en": "d MMMM"}
_DAY_MONTH_YEAR = {"es": "d 'de' MMMM 'de' y", "en": "d MMMM y"}


@dataclass(frozen=True)
class OfferView:
    """Every text and card the offer screen shows for one offer."""

    id: str
    title: str
    discount: str  # "-20 %" / "20% off"
    terms: str
    until: str  # "Hasta el 31 de enero" / "Until 31 January"
    for_members: bool  # a members' offer: it can be saved to a loyalty card
    members_note: str  # "" for an offer for everyone
    products: tuple[SuggestionView, ...]  # the covered products in stock here, each at its price after the offer


def day_text(day: date, language: str, today: date) -> str:
    """``day`` as the shopper's language writes it: "1 de septiembre" / "1 September"."""
    formats = _DAY_MONTH if day.year == today.year else _DAY_MONTH_YEAR
    return format_date(day, formats.get(language, formats["es"]), locale=language if language in formats else "es")


def local_day(moment: datetime) -> date:
    """The day ``moment`` falls on by the kiosk's own clock (the store's local time)."""
    return moment.astimezone().date()


def last_day(offer: Offer) -> date:
    """The last day an offer runs: one that ends at midnight ran until the day before."""
    return local_day(offer.ends - timedelta(microseconds=1))


def offer_view(offer: Offer, products: tuple[Product, ...], catalog: Catalog, catalog_file: Path, store: str,
               language: str, now: datetime) -> OfferView:
    """The offer screen's content for ``offer`` and the ``products`` it covers in stock in ``store``."""
    texts = texts_for(language)
    cards = []
    for product in products[:MAX_OFFER_CARDS]:
        usual = cents(product.price_in(store))
        cards.append(SuggestionView(
            sku=product.sku, name=product.name.get(language),
            price=money(offer.discount.apply(usual), catalog, language), usual_price=money(usual, catalog, language),
            image=image_path(catalog_file, product.image),
            reason=texts["stock_units"].format(count=sum(product.stock_in(store).values()))))
    return OfferView(
        id=offer.id,
        title=offer.title.get(language),
        discount=discount_text(offer.discount, catalog, language),
        terms=offer.terms.get(language),
        until=texts["offer_until"].format(date=day_text(last_day(offer), language, local_day(now))),
        for_members=offer.for_members(),
        members_note=texts["offer_members"] if offer.for_members() else "",
        products=tuple(cards),
    )


def unavailable_text(offer: Offer | None, store: str, language: str, now: datetime) -> str:
    """Why a sign's offer is not on here now: it ended on a day, starts on one, or is not known here."""
    texts = texts_for(language)
    if offer is None or not offer.runs_in(store):
        return texts["offer_unknown"]
    today = local_day(now)
    state = offer.state(now)
    if state is OfferState.ENDED:
        return texts["offer_ended"].format(date=day_text(last_day(offer), language, today))
    if state is OfferState.SCHEDULED:
        return texts["offer_starts"].format(date=day_text(local_day(offer.starts), language, today))
    return texts["offer_unknown"]


def coupon_lines(coupons: set[str], offers: OfferList, catalog: Catalog, language: str) -> tuple[str, ...]:
    """A shopper's coupons this kiosk knows the offers of, by title and what each takes off, in a stable order."""
    return tuple(f"{offer.title.get(language)} · {discount_text(offer.discount, catalog, language)}"
                 for offer_id in sorted(coupons) if (offer := offers.get(offer_id)))
