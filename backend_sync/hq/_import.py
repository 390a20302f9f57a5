"""HQ's catalog import: a CSV or JSON file becomes HQ's master catalog, or nothing changes.

CSV: one row per product and size, the product's columns repeated on each of its rows::

    sku,name_es,name_en,description_es,description_en,category,brand,colour_es,colour_en,
    price,image,size,stock:<store>,stock:<other store>...

and optionally ``price:<store>`` (that store's price, where it differs) and ``sold_in``
(the stores that carry the product, separated by ``;``; empty: every store).

JSON: the catalog format itself. Either way every problem is reported with its line
(CSV) or its place in the document (JSON), and a file with any problem changes nothing.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from backend_sync.catalog import Catalog, dump_catalog
from backend_sync.exceptions import CatalogError

_PRODUCT_COLUMNS = ("sku", "name_es", "name_en", "description_es", "description_en", "category", "brand",
                    "colour_es", "colour_en", "price", "image")
_MAX_REPORTED = 50


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file."""

    where: str  # "line 12, price" or "products.3.sku"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(CatalogError):
    """An import file with problems; nothing was changed."""

    def __init__(self, path: Path, problems: list[ImportProblem]) -> None:
        shown = "\n".join(f"  {p}" for p in problems[:_MAX_REPORTED])
        more = f"\n  ... and {len(problems) - _MAX_REPORTED} more" if len(problems) > _MAX_REPORTED else ""
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported\n{shown}{more}")
        self.problems = problems


def import_catalog(source: Path, master: Path, template: Catalog | None = None) -> Catalog:
    """Validate ``source`` (.csv or .json) and make it HQ's master catalog at ``master``.

    A CSV carries products only; currency, shop address and stores come from
    ``template`` (the current master catalog).

    Raises:
        ImportRejected: every problem found; ``master`` is untouched.
    """
    text = _read(source)
    if source.suffix.lower() == ".csv":
        if template is None:
            raise CatalogError("a CSV import needs the current master catalog for currency, shop and stores")
        catalog = _from_csv(source, text, template)
    else:
        catalog = _from_json(source, text)
    staged = master.with_suffix(".importing")
    staged.write_text(dump_catalog(catalog), encoding="utf-8")
    staged.replace(master)  # readers see the old catalog or the new one, never half
    return catalog


def _read(source: Path) -> str:
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"cannot read {source}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise ImportRejected(source, [ImportProblem(f"byte {exc.start}", "not UTF-8 text")]) from exc


def _from_json(source: Path, text: str) -> Catalog:
    try:
        return Catalog.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ImportRejected(source, [ImportProblem(f"line {exc.lineno}, column {exc.colno}", exc.msg)]) from exc
    except ValidationError as exc:
        raise ImportRejected(source, [ImportProblem(".".join(str(p) for p in e["loc"]) or "catalog", e["msg"])
                                      for e in exc.errors(include_url=False)]) from exc


def _from_csv(source: Path, text: str, template: Catalog) -> Catalog:
    reader = csv.DictReader(io.StringIO(text))
    columns = reader.fieldnames or []
    missing = [c for c in (*_PRODUCT_COLUMNS, "size") if c not in columns]
    stores = [c.removeprefix("stock:") for c in columns if c.startswith("stock:")]
    if missing or not stores:
        header = [ImportProblem("line 1", f"missing column {c}") for c in missing]
        header += [] if stores else [ImportProblem("line 1", "no stock:<store> column")]
        raise ImportRejected(source, header)
    products: dict[str, dict[str, Any]] = {}
    first_line: dict[str, int] = {}
    problems: list[ImportProblem] = []
    price_columns = [c for c in columns if c.startswith("price:")]
    for row in reader:
        line = reader.line_num
        sku = (row.get("sku") or "").strip()
        fields = {c: (row.get(c) or "").strip() for c in (*_PRODUCT_COLUMNS, *price_columns, "sold_in")}
        product = products.setdefault(sku, _product(fields))
        first_line.setdefault(sku, line)
        if _product(fields) != {**product, "sizes": [], "stock": {}}:
            problems.append(ImportProblem(f"line {line}", f"{sku}: differs from its first row (line "
                                                          f"{first_line[sku]}) in a product column"))
        size = (row.get("size") or "").strip()
        if not size or size in product["sizes"]:
            problems.append(ImportProblem(f"line {line}, size", f"{sku}: size {size!r} missing or repeated"))
            continue
        product["sizes"].append(size)
        for store in stores:
            raw = (row.get(f"stock:{store}") or "").strip()
            if not raw.isdigit():
                problems.append(ImportProblem(f"line {line}, stock:{store}", f"{raw!r} is not a whole number"))
                continue
            product["stock"].setdefault(store, {})[size] = int(raw)
    document = {**template.model_dump(mode="json"), "products": list(products.values())}
    try:
        catalog = Catalog.model_validate(document)
    except ValidationError as exc:
        skus = list(products)
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            if len(loc) >= 2 and loc[0] == "products" and isinstance(loc[1], int):
                field = ".".join(str(p) for p in loc[2:])
                problems.append(ImportProblem(f"line {first_line[skus[loc[1]]]}, {field}",
                                              f"{skus[loc[1]]}: {error['msg']}"))
            else:
                problems.append(ImportProblem(".".join(str(p) for p in loc), error["msg"]))
    if problems:
        raise ImportRejected(source, problems)
    return catalog


def _product(fields: dict[str, str]) -> dict[str, Any]:
    # Prices stay text here: the catalog's validation parses them and reports bad ones.
    return {
        "sku": fields["sku"], "name": {"es": fields["name_es"], "en": fields["name_en"]},
        "description": {"es": fields["description_es"], "en": fields["description_en"]},
        "category": fields["category"], "brand": fields["brand"], "price": fields["price"],
        "colour": {"es": fields["colour_es"], "en": fields["colour_en"]}, "image": fields["image"],
        "sizes": [], "stock": {},
        "prices": {c.removeprefix("price:"): v for c, v in fields.items() if c.startswith("price:") and v},
        "stores": [s.strip() for s in fields["sold_in"].split(";") if s.strip()] or None,
    }
