"""The catalog a kiosk shows: products with bilingual texts, sizes and per-store stock."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import re
import zoneinfo
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails

from kiosk_protocol._manifest import PATH_SEGMENT
from kiosk_protocol.exceptions import CatalogError

LANGUAGES = ("es", "en")
MAX_TEXT_CHARS = 4_000  # one text field: several times the longest product description
IMAGES = "images"  # the one folder of a catalog (and of its bundle) that holds product images
# C0/C1 controls (NUL, tabs, line ends), line/paragraph separators, the byte-order mark, and
# the bidirectional controls that make a text display other than it reads (Trojan Source).
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]")
# What a spreadsheet takes for a formula when HQ's files are opened in one (CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@")


def _plain(text: str) -> str:
    if text.isprintable() and not text.startswith(_FORMULA_STARTS):
        return text  # the common case, in C: every product text of a 50,000-product update passes here
    hidden = _HIDDEN.search(text)  # isprintable also refuses harmless ones: no-break space, joiners
    if hidden:
        raise ValueError(f"contains the control character U+{ord(hidden.group()):04X}")
    if text.startswith(_FORMULA_STARTS):
        raise ValueError(f"starts with {text[0]!r}, which a spreadsheet takes for a formula")
    return text


# Every text a kiosk shows: printable, of a sane length, never a formula.
PlainText = Annotated[str, Field(max_length=MAX_TEXT_CHARS), AfterValidator(_plain)]
Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]
_IMAGE = re.compile(rf"{IMAGES}/{PATH_SEGMENT}")


def _image(path: str) -> str:
    if not _IMAGE.fullmatch(path):
        raise ValueError(f"{path[:80]!r} is not {IMAGES}/<name> (a-z, 0-9, '-' and '_', dots only inside the name): "
                         f"images come only from the catalog's {IMAGES} folder")
    return path


# A file in the catalog's images folder: one name of the bundle's path alphabet, so no
# "..", no absolute path, no other folder, and never a name of the bundle's own files.
ImagePath = Annotated[str, Field(max_length=200), AfterValidator(_image)]
Price = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class Texts(BaseModel):
    """One text in every language the kiosk speaks."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    es: Annotated[PlainText, Field(min_length=1)]
    en: Annotated[PlainText, Field(min_length=1)]

    def get(self, language: str) -> str:
        """The text in ``language``, falling back to Spanish."""
        return self.en if language == "en" else self.es


def _time_zone(name: str) -> str:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name[:64]!r} is not a time zone (an IANA name such as Europe/Madrid)") from exc
    return name


TimeZoneName = Annotated[str, Field(max_length=64), AfterValidator(_time_zone)]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # as ``date.weekday()`` counts
_CLOCK_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
MAX_SPELLS_A_DAY = 4  # a day open in more pieces than this is a typing slip


def _clock_time(value: object) -> dt.time:
    """``"09:30"``: a time on the store's wall clock, to the minute, with no offset (the store's zone says it)."""
    if isinstance(value, dt.time) and value.tzinfo is None and not (value.second or value.microsecond):
        return value
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
        raise ValueError(f"{str(value)[:20]!r} is not a time of day as HH:MM (00:00 to 23:59)")
    return dt.time(int(value[:2]), int(value[3:]))


ClockTime = Annotated[dt.time, PlainValidator(_clock_time), PlainSerializer(lambda t: f"{t:%H:%M}", return_type=str)]


class OpenSpell(BaseModel):
    """One span of a day a store is open, in its own time zone (``"09:30"`` to ``"14:00"``).

    A store open until midnight closes at ``"23:59"``; one open past midnight lists the
    hours after it under the next day.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    opens: ClockTime
    closes: ClockTime

    @model_validator(mode="after")
    def _opens_before_it_closes(self) -> OpenSpell:
        if self.opens >= self.closes:
            raise ValueError(f"opens at {self.opens:%H:%M}, not before it closes at {self.closes:%H:%M}")
        return self


def _in_order(spells: tuple[OpenSpell, ...]) -> tuple[OpenSpell, ...]:
    for before, after in itertools.pairwise(spells):
        if after.opens < before.closes:
            raise ValueError(f"{after.opens:%H:%M}-{after.closes:%H:%M} does not come after "
                             f"{before.opens:%H:%M}-{before.closes:%H:%M}: a day's hours are listed in order, "
                             f"none overlapping")
    return spells


DaySpells = Annotated[tuple[OpenSpell, ...], Field(max_length=MAX_SPELLS_A_DAY), AfterValidator(_in_order)]


class Store(BaseModel):
    """A store of the chain, with its time zone and opening hours (no hours: open around the clock).

    Analytics read a store's days in its own time zone, and kiosk uptime counts only the
    hours it is open: a kiosk switched off at night is not down.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: PlainText
    time_zone: TimeZoneName = "UTC"
    # Each day's spells; a day not listed (or listed with none) the store is closed.
    opening_hours: dict[Weekday, DaySpells] | None = None

    def spells_on(self, day: dt.date) -> tuple[tuple[dt.time, dt.time], ...]:
        """When the store is open on ``day`` (its own local date): none on a day it is closed."""
        if self.opening_hours is None:
            return ((dt.time.min, dt.time.max),)
        return tuple((s.opens, s.closes) for s in self.opening_hours.get(WEEKDAYS[day.weekday()], ()))

    def is_open_at(self, moment: dt.datetime) -> bool:
        """Whether the store is open at ``moment`` (aware), read on its own clock."""
        local = moment.astimezone(zoneinfo.ZoneInfo(self.time_zone))
        return any(opens <= local.time() < closes for opens, closes in self.spells_on(local.date()))


class Product(BaseModel):
    """A product as the kiosk shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: Sku
    name: Texts
    description: Texts
    category: PlainText
    brand: PlainText
    price: Price
    sizes: tuple[PlainText, ...]
    colour: Texts
    image: ImagePath
    stock: dict[str, dict[str, Annotated[int, Field(ge=0)]]]
    # Per-store price where it differs from ``price``; the stores that sell it (None: all).
    prices: dict[str, Price] = Field(default_factory=dict)
    stores: tuple[str, ...] | None = None

    def stock_in(self, store: str) -> dict[str, int]:
        """Units per size in ``store`` (sizes it does not list count as 0)."""
        in_store = self.stock.get(store, {})
        return {size: in_store.get(size, 0) for size in self.sizes}

    def price_in(self, store: str) -> float:
        """What the product costs in ``store``."""
        return self.prices.get(store, self.price)

    def sold_in(self, store: str) -> bool:
        """Whether ``store`` carries the product."""
        return self.stores is None or store in self.stores


class Catalog(BaseModel):
    """Every product, looked up by SKU."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    catalog_version: Annotated[int, Field(ge=1)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    shop_url: PlainText
    stores: tuple[Store, ...]
    products: tuple[Product, ...]

    @model_validator(mode="after")
    def _consistent(self) -> Catalog:
        by_sku: dict[str, Product] = {}
        known = {store.id for store in self.stores}
        for product in self.products:
            if product.sku in by_sku:
                raise ValueError(f"SKU {product.sku} appears twice")
            by_sku[product.sku] = product
            named = set(product.stock) | set(product.prices) | set(product.stores or ())
            if named - known:
                raise ValueError(f"{product.sku} names unknown stores: {', '.join(sorted(named - known))}")
        # Kept as the SKU index: built here, on whichever thread loads the catalog, not in the first tap's frame.
        object.__setattr__(self, "_index", (self.products, by_sku))
        return self

    def product(self, sku: str) -> Product | None:
        """The product with ``sku``, or None."""
        return self._by_sku().get(sku)

    def for_stores(self, stores: Sequence[str]) -> Catalog:
        """The part of the catalog these stores need: their products, stock and prices only.

        Raises:
            CatalogError: a store the catalog does not know.
        """
        unknown = set(stores) - {store.id for store in self.stores}
        if unknown:
            raise CatalogError(f"unknown stores: {', '.join(sorted(unknown))}")
        wanted = set(stores)
        products = tuple(
            product.model_copy(update={
                "stock": {s: units for s, units in product.stock.items() if s in wanted},
                "prices": {s: price for s, price in product.prices.items() if s in wanted},
                "stores": None if product.stores is None else tuple(s for s in product.stores if s in wanted),
            })
            for product in self.products if any(product.sold_in(store) for store in wanted)
        )
        return self.model_copy(update={"stores": tuple(s for s in self.stores if s.id in wanted),
                                       "products": products})

    def _by_sku(self) -> dict[str, Product]:
        # Kept with the products tuple it indexes: model_copy carries the instance dict
        # over, and a copy with other products (built without validation) must not reuse it.
        cached: tuple[tuple[Product, ...], dict[str, Product]] | None = self.__dict__.get("_index")
        if cached is None or cached[0] is not self.products:
            cached = (self.products, {p.sku: p for p in self.products})
            object.__setattr__(self, "_index", cached)
        return cached[1]


_CURRENCY_SYMBOLS = {"EUR": "€", "GBP": "£", "USD": "$"}


def format_price(amount: float, currency: str, language: str) -> str:
    """A price as shoppers write it: ``89,95 €`` in Spanish, ``€89.95`` in English."""
    symbol = _CURRENCY_SYMBOLS.get(currency, currency)
    whole, cents = f"{amount:.2f}".split(".")
    if language == "en":
        return f"{symbol}{int(whole):,}.{cents}"
    # Spanish groups thousands with a dot only from five digits on (RAE, CLDR).
    grouped = f"{int(whole):,}".replace(",", ".") if len(whole) >= 5 else whole
    return f"{grouped},{cents}\u00a0{symbol}"


def image_file(catalog_file: Path, image: str) -> Path | None:
    """The file of a product's ``image``, resolved, if it lies inside the catalog's folder.

    None for a path that leaves the folder, itself or through a symlink: only the
    catalog's own files are ever shown or published.
    """
    folder = catalog_file.resolve().parent
    candidate = (folder / image).resolve()
    return candidate if candidate.is_relative_to(folder) else None


def load_catalog(path: str | Path) -> Catalog:
    """Read and validate a catalog JSON file.

    Raises:
        CatalogError: unreadable file, bad JSON, or content that breaks the schema.
    """
    try:
        return Catalog.model_validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from exc
    except ValidationError as exc:
        raise CatalogError(f"catalog {path} is not valid: {problems(exc)}") from exc


def problems(error: ValidationError) -> str:
    """The first few things wrong, each with where it is: ``products.3.price: ...``."""
    def one(problem: ErrorDetails) -> str:
        where = ".".join(str(part) for part in problem["loc"])
        return f"{where}: {problem['msg']}" if where else problem["msg"]  # a whole line that is not JSON has no place

    return "; ".join(one(problem) for problem in error.errors(include_url=False)[:5])


def dump_catalog(catalog: Catalog) -> str:
    """The catalog as JSON text."""
    return json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, indent=2)
