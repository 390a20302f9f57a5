"""HQ's offer import: a CSV or JSON file of offers merges into HQ's offers by id, or nothing changes.

JSON: a list of offers as the shared model writes them (or an ``offers.json`` of a bundle,
``{"offers": [...]}``)::

    [{"id": "WINTER-BOOTS", "title": {"es": ..., "en": ...}, "terms": {"es": ..., "en": ...},
      "discount": {"kind": "percent", "value": 20}, "category": "footwear/boots",
      "stores": ["madrid-centro"], "starts": "2026-01-01T00:00:00+00:00",
      "ends": "2030-01-01T00:00:00+00:00", "audience": "everyone", "per_shopper": 1}]

CSV: one offer per row, lists separated by ``|``::

    id,title_es,title_en,terms_es,terms_en,discount_kind,discount_value,skus,category,stores,
    starts,ends,audience,per_shopper

(``skus`` or ``category``, one of the two; ``audience`` and ``per_shopper`` may be left
out or empty: everyone, once.)

Beyond the model's own rules, each offer is checked against HQ's master catalog: its
SKUs are master products, its category is the category (or a parent of it) of at least
one, its stores are master stores, and its discount lowers the price of every product it
covers in every store it runs in. Every problem is reported by CSV line or JSON place;
a file with any problem changes nothing.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hq._import import _lines, _open, json_document
from hq._offers import Merged, OfferBook
from hq.exceptions import ImportProblem, ImportRejected
from kiosk_protocol import Catalog, DiscountKind, Offer, cents

log = logging.getLogger(__name__)

LIST_SEPARATOR = "|"
REQUIRED_COLUMNS = ("id", "title_es", "title_en", "terms_es", "terms_en", "discount_kind", "discount_value",
                    "stores", "starts", "ends")
OPTIONAL_COLUMNS = ("skus", "category", "audience", "per_shopper")
_ID_RULE = "an offer id is 1 to 48 capital letters, digits and hyphens, starting with a letter or digit"


@dataclass(frozen=True)
class OfferImportReport:
    """What an offer import did to HQ's offers."""

    offers: tuple[Offer, ...]
    merged: Merged

    def summary(self) -> str:
        """``2 added, 1 updated, 9 unchanged``."""
        return f"{self.merged.added} added, {self.merged.updated} updated, {self.merged.unchanged} unchanged"


def import_offers(source: Path, book: OfferBook, master: Catalog) -> OfferImportReport:
    """Validate ``source`` (.csv or .json) against ``master`` and merge its offers into ``book`` by id.

    Raises:
        ImportRejected: every problem found; ``book`` is untouched.
    """
    offers = read_offers(source, master)
    merged = book.merge(offers)
    report = OfferImportReport(tuple(offers), merged)
    log.info("offer import of %s: %s", source, report.summary())
    return report


def read_offers(source: Path, master: Catalog) -> list[Offer]:
    """The offers of ``source``, each valid and consistent with ``master``.

    Raises:
        ImportRejected: every problem, by line (CSV) or place (JSON).
    """
    try:
        placed, problems = _from_csv(source) if source.suffix.lower() == ".csv" else _from_json(source)
        categories = {parent for product in master.products for parent in _parents(product.category)}
        problems += [problem for where, offer in placed for problem in _against(master, categories, where, offer)]
        problems += _duplicates(placed)
        problems.sort(key=_order)
        if problems:
            raise ImportRejected(source, problems)
    except ImportRejected as exc:
        log.warning("offer import of %s refused: %d problem(s), nothing imported", source, len(exc.problems))
        raise
    return [offer for _, offer in placed]


def _parents(category: str) -> Iterator[str]:
    """``a/b/c``, ``a/b`` and ``a``: the categories an offer may name to cover a product of ``category``."""
    parts = category.split("/")
    return ("/".join(parts[:n]) for n in range(len(parts), 0, -1))


def _against(master: Catalog, categories: set[str], where: str, offer: Offer) -> Iterator[ImportProblem]:
    """What is wrong with ``offer`` in the light of the master catalog (``categories``: its
    products' categories and their parents)."""
    known_stores = {store.id for store in master.stores}
    unknown_stores = [store for store in offer.stores if store not in known_stores]
    if unknown_stores:
        yield ImportProblem(where, f"{offer.id}: unknown stores: {', '.join(unknown_stores)}")
    unknown_skus = [sku for sku in offer.skus if master.product(sku) is None]
    if unknown_skus:
        yield ImportProblem(where, f"{offer.id}: unknown SKUs: {', '.join(unknown_skus)}")
    if offer.category is not None and offer.category not in categories:
        yield ImportProblem(where, f"{offer.id}: no master product is in category {offer.category!r}")
    if offer.discount.kind is DiscountKind.PERCENT:
        return  # never more than a price: no need to go through the catalog's products
    covered = [master.product(sku) for sku in offer.skus] if offer.skus else [
        product for product in master.products if offer.covers(product)]
    stores = [store for store in offer.stores if store in known_stores]
    over = [f"{product.sku} at {product.price_in(store)} in {store}" for product in covered if product
            for store in stores if not offer.discount.lowers(cents(product.price_in(store)))]
    if over:
        shown = "; ".join(over[:5]) + (f"; and {len(over) - 5} more" if len(over) > 5 else "")
        kind = "a fixed price not below" if offer.discount.kind is DiscountKind.PRICE else "more off than"
        yield ImportProblem(where, f"{offer.id}: {offer.discount.value} is {kind} the price of {shown}")


def _order(problem: ImportProblem) -> int:
    """Problems in the file's order (by line, or by place in the list), then as they were found."""
    number = re.search(r"[0-9]+", problem.where)
    return int(number.group()) if number else -1


def _duplicates(placed: list[tuple[str, Offer]]) -> list[ImportProblem]:
    first: dict[str, str] = {}
    problems = []
    for where, offer in placed:
        if offer.id in first:
            problems.append(ImportProblem(where, f"{offer.id}: duplicated id (first at {first[offer.id]})"))
        first.setdefault(offer.id, where)
    return problems


def _validated(document: Any, where: str, column: Callable[[tuple[int | str, ...]], str] | None = None,
               ) -> tuple[Offer | None, list[ImportProblem]]:
    """``document`` as an offer, or the problems with it, placed at ``where`` and the field
    (named by ``column``: a CSV's column for a field's place in the model)."""
    try:
        return Offer.model_validate(document), []
    except ValidationError as exc:
        label = document.get("id") if isinstance(document, dict) and isinstance(document.get("id"), str) else None
        problems = []
        for error in exc.errors(include_url=False):
            field = column(error["loc"]) if column else ".".join(str(part) for part in error["loc"])
            message = _ID_RULE if error["loc"] == ("id",) and error["type"] == "string_pattern_mismatch" else error[
                "msg"].removeprefix("Value error, ")
            place = f"{where}, {field}" if field else where
            problems.append(ImportProblem(place, f"{label}: {message}" if label else message))
        return None, problems


_Placed = tuple[list[tuple[str, Offer]], list[ImportProblem]]  # the valid offers by place, the problems


def _from_json(source: Path) -> _Placed:
    document = json_document(source, "offers")
    prefix = ""
    if isinstance(document, dict) and set(document) == {"offers"}:  # a bundle's offers.json
        document, prefix = document["offers"], "offers"
    if not isinstance(document, list):
        raise ImportRejected(source, [ImportProblem("file", "not a list of offers")])
    placed, problems = [], []
    for number, item in enumerate(document):
        where = f"{prefix}[{number}]"
        offer, wrong = _validated(item, where)
        problems += wrong
        if offer is not None:
            placed.append((where, offer))
    return placed, problems


def _from_csv(source: Path) -> _Placed:
    placed: list[tuple[str, Offer]] = []
    problems: list[ImportProblem] = []
    with _open(source) as stream:
        reader = csv.DictReader(_lines(source, stream))
        try:
            columns = reader.fieldnames or []
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            unknown = [c for c in columns if c not in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
            twice = sorted({c for c in columns if columns.count(c) > 1})
            if missing or unknown or twice:
                raise ImportRejected(source, [ImportProblem("line 1", f"missing column {c}") for c in missing]
                                     + [ImportProblem("line 1", f"unknown column {c}") for c in unknown]
                                     + [ImportProblem("line 1", f"column {c} appears twice") for c in twice])
            for row in reader:
                where = f"line {reader.line_num}"
                if None in row:  # DictReader's place for cells beyond the header's
                    problems.append(ImportProblem(where, f"{len(row[None])} more cell(s) than columns"))
                    continue
                offer, wrong = _validated(_document(row), where, _column)
                problems += wrong
                if offer is not None:
                    placed.append((where, offer))
        except csv.Error as exc:
            problems.append(ImportProblem(f"line {reader.line_num}", f"not CSV: {exc}"))
    return placed, problems


def _document(row: dict[str, str | None]) -> dict[str, Any]:
    """One CSV row as the offer model's document; empty optional cells are left to the defaults."""
    cell = {column: (value or "").strip() for column, value in row.items()}

    def listed(column: str) -> list[str]:
        return [part.strip() for part in cell.get(column, "").split(LIST_SEPARATOR) if part.strip()]

    document: dict[str, Any] = {
        "id": cell["id"], "title": {"es": cell["title_es"], "en": cell["title_en"]},
        "terms": {"es": cell["terms_es"], "en": cell["terms_en"]},
        "discount": {"kind": cell["discount_kind"], "value": cell["discount_value"]},
        "skus": listed("skus"), "category": cell.get("category") or None, "stores": listed("stores"),
        "starts": cell["starts"], "ends": cell["ends"],
    }
    for optional in ("audience", "per_shopper"):
        if cell.get(optional):
            document[optional] = cell[optional]
    return document


def _column(loc: tuple[int | str, ...]) -> str:
    """The CSV column an offer field comes from ("" for the offer as a whole)."""
    if not loc:
        return ""
    if loc[0] in ("skus", "stores"):
        return str(loc[0])
    return "_".join(str(part) for part in loc[:2])  # title.es is the column title_es
