"""HQ's catalog import: a CSV or JSON file updates HQ's master catalog, or nothing changes.

CSV: one row per product and size, the product's columns repeated on each of its rows::

    sku,name_es,name_en,description_es,description_en,category,brand,colour_es,colour_en,
    price,image,size,stock:<store>,stock:<other store>...

and optionally ``price:<store>`` (that store's price, where it differs) and ``sold_in``
(the stores that carry the product, separated by ``;``; empty: every store).

JSON: the catalog format itself. Either way every problem is reported with its line
(CSV) or its place in the document (JSON), and a file with any problem changes nothing.

By default the file's products are merged into the master catalog by SKU (new ones
added, listed ones updated, the rest kept); with ``replace`` the file is the whole
catalog and products it does not list are removed.

The file is read a line at a time within ``MAX_FILE_BYTES`` and ``MAX_LINE_BYTES``, so a
huge or endless file is refused at the line where it breaks a cap, not after it filled memory.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from hq.exceptions import ImportProblem, ImportRejected
from kiosk_protocol import Catalog, Product, dump_catalog, image_file

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 256 * 1024 * 1024  # 50,000 products in 8 sizes is about 200 MB of CSV
MAX_LINE_BYTES = 128 * 1024  # a row of four texts at the catalog's MAX_TEXT_CHARS, in any script
MAX_UNITS = 999_999_999  # stock of one size in one store
_PRODUCT_COLUMNS = ("sku", "name_es", "name_en", "description_es", "description_en", "category", "brand",
                    "colour_es", "colour_en", "price", "image")
_UNITS = re.compile(r"[0-9]{1,9}")  # ASCII digits only: "²" and "٣" are digits to str.isdigit, not to int()


@dataclass(frozen=True)
class ImportReport:
    """What an import did to the master catalog, by SKU."""

    catalog: Catalog
    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # only by a replacing import
    replaced: bool = False

    @property
    def imported(self) -> int:
        """How many products the file listed."""
        return len(self.added) + len(self.changed) + len(self.unchanged)

    def summary(self) -> str:
        """``2 added, 1 changed, 9 unchanged`` (and ``, 3 removed`` for a replacing import)."""
        parts = [f"{len(self.added)} added", f"{len(self.changed)} changed", f"{len(self.unchanged)} unchanged"]
        return ", ".join(parts + ([f"{len(self.removed)} removed"] if self.replaced else []))


def import_catalog(source: Path, master: Path, current: Catalog | None = None,
                   replace: bool = False) -> ImportReport:
    """Validate ``source`` (.csv or .json) and merge it into HQ's master catalog at ``master``.

    ``current`` is the master catalog as it is now. A CSV carries products only; currency,
    shop address and stores come from ``current``. With ``replace``, the file's products
    are the whole catalog.

    Raises:
        ImportRejected: every problem found; ``master`` is untouched.
    """
    try:
        if source.suffix.lower() == ".csv":
            if current is None:
                raise ImportRejected(source, [ImportProblem("file", "a CSV import needs the current master catalog "
                                                                    "for currency, shop and stores")])
            header, incoming = current, _from_csv(source, current, master)
        else:
            header = _from_json(source, master)
            incoming = list(header.products)
        report = _merge(source, header, current.products if current else (), incoming, replace)
    except ImportRejected as exc:
        log.warning("catalog import of %s refused: %d problem(s), nothing imported", source, len(exc.problems))
        raise
    if report.catalog != current:
        staged = master.with_suffix(".importing")
        staged.write_text(dump_catalog(report.catalog), encoding="utf-8")
        staged.replace(master)  # readers see the old catalog or the new one, never half
    log.info("catalog import of %s into %s: %s", source, master, report.summary())
    return report


def _merge(source: Path, header: Catalog, current: Sequence[Product], incoming: Sequence[Product],
                   replace: bool) -> ImportReport:
    """The catalog ``header`` describes, holding ``incoming`` merged into ``current`` by SKU
    (new SKUs after the rest), or ``incoming`` alone with ``replace``.

    Raises:
        ImportRejected: the merged catalog is not valid (a kept product names a store
            the file's catalog no longer has).
    """
    before = {product.sku: product for product in current}
    listed = {product.sku: product for product in incoming}
    products = list(incoming) if replace else [listed.get(p.sku, p) for p in current] + [
        p for p in incoming if p.sku not in before]
    try:
        catalog = Catalog.model_validate({**header.model_dump(exclude={"products"}), "products": products})
    except ValidationError as exc:
        raise ImportRejected(source, [ImportProblem(_place(e["loc"]) or "catalog", e["msg"])
                                      for e in exc.errors(include_url=False)]) from exc
    return ImportReport(
        catalog=catalog,
        added=tuple(sku for sku in listed if sku not in before),
        changed=tuple(sku for sku, product in listed.items() if sku in before and before[sku] != product),
        unchanged=tuple(sku for sku, product in listed.items() if before.get(sku) == product),
        removed=tuple(sku for sku in before if sku not in listed) if replace else (),
        replaced=replace,
    )


def _place(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _open(source: Path) -> IO[bytes]:
    try:
        stream = source.open("rb")
        size = os.fstat(stream.fileno()).st_size
    except OSError as exc:
        raise ImportRejected(source, [ImportProblem("file", f"cannot be read: {exc.strerror}")]) from exc
    if size > MAX_FILE_BYTES:
        stream.close()
        raise ImportRejected(source, [ImportProblem("file", f"larger than {MAX_FILE_BYTES:,} bytes")])
    return stream


def _outside(master: Path, product: Product) -> ImportProblem | None:
    """A problem for an image that a symlink leads out of the master catalog's folder."""
    if image_file(master, product.image) is None:
        return ImportProblem("image", f"{product.sku}: {product.image} leads out of the catalog's folder")
    return None


def json_document(source: Path, kind: str) -> Any:
    """The JSON document in ``source``, or ImportRejected saying where it is not one (``kind``:
    what the file should hold, for the message: "catalog", "offers")."""
    with _open(source) as stream:
        data = stream.read(MAX_FILE_BYTES + 1)  # the size was checked, but a pipe or a growing file has none
    if len(data) > MAX_FILE_BYTES:
        raise ImportRejected(source, [ImportProblem("file", f"larger than {MAX_FILE_BYTES:,} bytes")])
    try:
        return json.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise ImportRejected(source, [ImportProblem(f"byte {exc.start}", "not UTF-8 text")]) from exc
    except json.JSONDecodeError as exc:
        raise ImportRejected(source, [ImportProblem(f"line {exc.lineno}, column {exc.colno}", exc.msg)]) from exc
    except RecursionError as exc:
        raise ImportRejected(source, [ImportProblem(kind, f"nested too deeply to be {kind}")]) from exc


def _from_json(source: Path, master: Path) -> Catalog:
    document = json_document(source, "catalog")
    try:
        catalog = Catalog.model_validate(document)
    except ValidationError as exc:
        raise ImportRejected(source, [ImportProblem(_place(e["loc"]) or "catalog", e["msg"])
                                      for e in exc.errors(include_url=False)]) from exc
    outside = [ImportProblem(f"products.{n}.{problem.where}", problem.message)
               for n, product in enumerate(catalog.products) if (problem := _outside(master, product))]
    if outside:
        raise ImportRejected(source, outside)
    return catalog


def _lines(source: Path, stream: IO[bytes]) -> Iterator[str]:
    """The file's lines as text, each refused at its number if too long or not UTF-8."""
    total = 0
    for number in count(1):
        raw = stream.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        total += len(raw)
        if len(raw.rstrip(b"\r\n")) > MAX_LINE_BYTES:
            raise ImportRejected(source, [ImportProblem(f"line {number}", f"longer than {MAX_LINE_BYTES:,} bytes")])
        if total > MAX_FILE_BYTES:
            raise ImportRejected(source, [ImportProblem(f"line {number}", f"the file passes {MAX_FILE_BYTES:,} "
                                                                          "bytes here")])
        try:
            yield raw.decode("utf-8-sig" if number == 1 else "utf-8")  # a spreadsheet's byte-order mark is no column
        except UnicodeDecodeError as exc:
            raise ImportRejected(source, [ImportProblem(f"line {number}, byte {exc.start + 1}",
                                                        "not UTF-8 text")]) from exc


@dataclass
class _Parsed:
    """The products of a CSV, with the line of each product's first row and of each size's row."""

    products: dict[str, dict[str, Any]] = field(default_factory=dict)
    first_line: dict[str, int] = field(default_factory=dict)
    size_lines: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[ImportProblem] = field(default_factory=list)

    def line_of(self, sku: str, loc: tuple[int | str, ...]) -> int:
        """The line a product's field came from: its size's row for a size or its stock."""
        sizes = self.size_lines.get(sku, {})
        if loc[:1] == ("sizes",) and len(loc) > 1 and isinstance(loc[1], int) and loc[1] < len(sizes):
            return list(sizes.values())[loc[1]]
        if loc[:1] == ("stock",) and len(loc) > 2 and str(loc[2]) in sizes:
            return sizes[str(loc[2])]
        return self.first_line[sku]


def _from_csv(source: Path, current: Catalog, master: Path) -> list[Product]:
    parsed = _Parsed()
    with _open(source) as stream:
        reader = csv.DictReader(_lines(source, stream))
        try:
            _read_rows(source, reader, parsed)
        except csv.Error as exc:
            parsed.problems.append(ImportProblem(f"line {reader.line_num}", f"not CSV: {exc}"))
    products = []
    for sku, document in parsed.products.items():
        try:
            products.append(Product.model_validate(document))
        except ValidationError as exc:
            parsed.problems += [ImportProblem(f"line {parsed.line_of(sku, e['loc'])}, {_column(e['loc'])}",
                                              f"{sku}: {e['msg']}") for e in exc.errors(include_url=False)]
    known = {store.id for store in current.stores}
    for product in products:
        outside = _outside(master, product)
        if outside:
            parsed.problems.append(ImportProblem(f"line {parsed.first_line[product.sku]}, {outside.where}",
                                                 outside.message))
        unknown = (set(product.stock) | set(product.prices) | set(product.stores or ())) - known
        if unknown:
            parsed.problems.append(ImportProblem(f"line {parsed.first_line[product.sku]}", f"{product.sku}: names "
                                                 f"unknown stores: {', '.join(sorted(unknown))}"))
    if parsed.problems:
        raise ImportRejected(source, parsed.problems)
    return products


def _read_rows(source: Path, reader: csv.DictReader[str], parsed: _Parsed) -> None:
    columns = reader.fieldnames or []
    missing = [c for c in (*_PRODUCT_COLUMNS, "size") if c not in columns]
    twice = sorted({c for c in columns if columns.count(c) > 1})
    stores = [c.removeprefix("stock:") for c in columns if c.startswith("stock:")]
    if missing or twice or not stores:
        header = [ImportProblem("line 1", f"missing column {c}") for c in missing]
        header += [ImportProblem("line 1", f"column {c} appears twice") for c in twice]
        header += [] if stores else [ImportProblem("line 1", "no stock:<store> column")]
        raise ImportRejected(source, header)
    price_columns = [c for c in columns if c.startswith("price:")]
    for row in reader:
        line = reader.line_num
        if None in row:  # DictReader's place for cells beyond the header's
            parsed.problems.append(ImportProblem(f"line {line}", f"{len(row[None])} more cell(s) than columns"))
            continue
        sku = (row.get("sku") or "").strip()
        fields = {c: (row.get(c) or "").strip() for c in (*_PRODUCT_COLUMNS, *price_columns, "sold_in")}
        product = parsed.products.setdefault(sku, _product(fields))
        first_line = parsed.first_line.setdefault(sku, line)
        if _product(fields) != {**product, "sizes": [], "stock": {}}:
            parsed.problems.append(ImportProblem(f"line {line}", f"{sku}: differs from its first row (line "
                                                                 f"{first_line}) in a product column"))
        size = (row.get("size") or "").strip()
        if not size or size in product["sizes"]:
            parsed.problems.append(ImportProblem(f"line {line}, size", f"{sku}: size {size!r} missing or repeated"))
            continue
        product["sizes"].append(size)
        parsed.size_lines.setdefault(sku, {})[size] = line
        for store in stores:
            raw = (row.get(f"stock:{store}") or "").strip()
            if not _UNITS.fullmatch(raw):
                parsed.problems.append(ImportProblem(f"line {line}, stock:{store}", f"{raw[:40]!r} is not a whole "
                                                     f"number of units from 0 to {MAX_UNITS:,}"))
                continue
            product["stock"].setdefault(store, {})[size] = int(raw)


def _column(loc: tuple[int | str, ...]) -> str:
    """The CSV column a product field comes from."""
    if loc[:1] == ("sizes",):
        return "size"
    if loc[:1] == ("stock",) and len(loc) > 1:
        return f"stock:{loc[1]}"
    if loc[:1] == ("prices",) and len(loc) > 1:
        return f"price:{loc[1]}"
    if loc[:1] == ("stores",):
        return "sold_in"
    return "_".join(str(part) for part in loc[:2])  # name.es is the column name_es


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
