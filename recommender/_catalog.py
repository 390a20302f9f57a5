"""Catalog JSON → :class:`ItemFeatures`, parsed here so the recommender depends on no other package.

The shape is the kiosk's catalog file (``assets/catalog/demo.json``): a ``products`` list whose
entries carry ``sku``, texts that are either strings or ``{language: text}`` objects (``name``,
``description``, ``colour``), ``category``, ``brand``, ``price`` and ``stock``
(``{store: {size: units}}`` or ``{store: units}``). Unknown keys are ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from recommender._types import ItemFeatures
from recommender.exceptions import CatalogInputError, EmptyCatalogError

_TEXT_FIELDS = ("name", "description", "colour")


def read_catalog(path: str | Path) -> tuple[ItemFeatures, ...]:
    """Read a catalog JSON file into item features.

    Raises:
        CatalogInputError: unreadable file, bad JSON, or a product without a usable ``sku``.
        EmptyCatalogError: the catalog lists no products.
    """
    try:
        document = json.loads(Path(path).read_bytes())
    except OSError as exc:
        raise CatalogInputError(f"cannot read catalog {path}: {exc.strerror}") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise CatalogInputError(f"catalog {path} is not JSON: {exc}") from exc
    return items_from_catalog_document(document, source=str(path))


def items_from_catalog_document(document: Any, source: str = "catalog") -> tuple[ItemFeatures, ...]:
    """Item features from an already parsed catalog document.

    Raises:
        CatalogInputError: the document is not a catalog or a product is malformed.
        EmptyCatalogError: the catalog lists no products.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("products"), list):
        raise CatalogInputError(f"{source}: expected an object with a 'products' list")
    products = document["products"]
    if not products:
        raise EmptyCatalogError(f"{source}: the catalog has no products")
    items = [_product_features(product, index, source) for index, product in enumerate(products)]
    seen: set[str] = set()
    for item in items:
        if item.item_id in seen:
            raise CatalogInputError(f"{source}: SKU {item.item_id} appears twice")
        seen.add(item.item_id)
    return tuple(items)


def _product_features(product: Any, index: int, source: str) -> ItemFeatures:
    where = f"{source}: product #{index}"
    if not isinstance(product, Mapping):
        raise CatalogInputError(f"{where} is not an object")
    sku = product.get("sku")
    if not isinstance(sku, str) or not sku:
        raise CatalogInputError(f"{where} has no 'sku'")
    where = f"{source}: product {sku}"
    texts: list[str] = []
    for name in _TEXT_FIELDS:
        texts.extend(_texts(product.get(name), f"{where}: {name}"))
    colours = _texts(product.get("colour"), f"{where}: colour")
    price = product.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, int | float) or price < 0):
        raise CatalogInputError(f"{where}: price must be a non-negative number")
    return ItemFeatures(
        item_id=sku,
        texts=tuple(texts),
        category=_string(product.get("category"), f"{where}: category"),
        brand=_string(product.get("brand"), f"{where}: brand"),
        price=float(price) if price is not None else None,
        attributes=tuple(f"colour:{colour.lower()}" for colour in colours[:1]),
        stock=_stock(product.get("stock"), where),
    )


def _texts(value: Any, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values()):
        return [str(v) for v in value.values()]
    raise CatalogInputError(f"{where} must be a string or an object of strings per language")


def _string(value: Any, where: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise CatalogInputError(f"{where} must be a string")
    return value


def _stock(value: Any, where: str) -> dict[str, int]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise CatalogInputError(f"{where}: stock must be an object of stores")
    stock: dict[str, int] = {}
    for store, units in value.items():
        counts: Iterable[Any] = units.values() if isinstance(units, Mapping) else [units]
        total = 0
        for count in counts:
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise CatalogInputError(f"{where}: stock in {store} must be non-negative integers")
            total += count
        stock[str(store)] = total
    return stock
