"""The catalog a kiosk shows: products with bilingual texts, sizes and per-store stock."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from backend_sync.exceptions import CatalogError

LANGUAGES = ("es", "en")
Sku = Annotated[str, Field(pattern=r"^[A-Z0-9][A-Z0-9-]{0,31}$")]


class Texts(BaseModel):
    """One text in every language the kiosk speaks."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    es: Annotated[str, Field(min_length=1)]
    en: Annotated[str, Field(min_length=1)]

    def get(self, language: str) -> str:
        """The text in ``language``, falling back to Spanish."""
        return self.en if language == "en" else self.es


class Store(BaseModel):
    """A store of the chain."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
    name: str


class Product(BaseModel):
    """A product as the kiosk shows it."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    sku: Sku
    name: Texts
    description: Texts
    category: str
    brand: str
    price: Annotated[float, Field(ge=0)]
    sizes: tuple[str, ...]
    colour: Texts
    image: str
    stock: dict[str, dict[str, Annotated[int, Field(ge=0)]]]

    def stock_in(self, store: str) -> dict[str, int]:
        """Units per size in ``store`` (sizes it does not list count as 0)."""
        in_store = self.stock.get(store, {})
        return {size: in_store.get(size, 0) for size in self.sizes}


class Catalog(BaseModel):
    """Every product, looked up by SKU."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    catalog_version: Annotated[int, Field(ge=1)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    shop_url: str
    stores: tuple[Store, ...]
    products: tuple[Product, ...]

    @model_validator(mode="after")
    def _unique_skus(self) -> Catalog:
        seen: set[str] = set()
        for product in self.products:
            if product.sku in seen:
                raise ValueError(f"SKU {product.sku} appears twice")
            seen.add(product.sku)
        return self

    def product(self, sku: str) -> Product | None:
        """The product with ``sku``, or None."""
        return self._by_sku().get(sku)

    def _by_sku(self) -> dict[str, Product]:
        cached: dict[str, Product] | None = self.__dict__.get("_index")
        if cached is None:
            cached = {p.sku: p for p in self.products}
            object.__setattr__(self, "_index", cached)  # frozen model: built once, on first lookup
        return cached


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
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors(include_url=False)[:5]
        )
        raise CatalogError(f"catalog {path} is not valid: {problems}") from exc


def dump_catalog(catalog: Catalog) -> str:
    """The catalog as JSON text."""
    return json.dumps(catalog.model_dump(mode="json"), ensure_ascii=False, indent=2)
