"""The catalog bundle format shared by HQ (which builds it) and kiosks (which rebuild it).

A catalog version is three kinds of file, each content-addressed by SHA-256:

    meta.json        version, currency, shop address, stores
    products.jsonl   one canonical JSON product per line, sorted by SKU
    images/<name>    product images

Because product lines are canonical, a kiosk holding the previous ``products.jsonl``
can rebuild the new one from a small delta (upserted lines, deleted SKUs) and check
the result against the full file's signed hash: a 1% change downloads about 1% of the
products.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kiosk_protocol._private_files import PUBLIC, atomic_writer
from kiosk_protocol.catalog import Catalog, Product, problems
from kiosk_protocol.exceptions import CatalogError

META = "meta.json"
PRODUCTS = "products.jsonl"
MODEL = "model.bin"  # the one file of a recommender model version
_LINES_PER_WRITE = 1_000


def sha256(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def canonical(value: Any) -> bytes:
    """The one byte form of a JSON value that HQ and every kiosk agree on."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def catalog_files(catalog: Catalog, version: int) -> dict[str, bytes]:
    """``meta.json`` and ``products.jsonl`` of a catalog, stamped with ``version``."""
    data = catalog.model_dump(mode="json")
    products = sorted(data.pop("products"), key=lambda product: product["sku"])
    meta = {**data, "catalog_version": version}
    return {META: canonical(meta), PRODUCTS: b"".join(canonical(product) + b"\n" for product in products)}


def make_delta(old: bytes, new: bytes) -> bytes:
    """A patch from one ``products.jsonl`` to the next: changed lines and deleted SKUs."""
    old_lines, new_lines = _by_sku(old), _by_sku(new)
    return canonical({
        "from": sha256(old),
        "upsert": [line.decode() for sku, line in sorted(new_lines.items()) if old_lines.get(sku) != line],
        "delete": sorted(set(old_lines) - set(new_lines)),
    })


def apply_delta(old: bytes, delta: bytes) -> bytes:
    """Rebuild the new ``products.jsonl`` from the old one and a delta.

    Raises:
        CatalogError: the delta is malformed or was made from another file.
    """
    try:
        patch = json.loads(delta)
        if patch["from"] != sha256(old):
            raise CatalogError("delta was made from another version of the products")
        lines = _by_sku(old)
        for sku in patch["delete"]:
            lines.pop(sku, None)
        lines.update(_by_sku("\n".join(patch["upsert"]).encode()))
    except (ValueError, KeyError, TypeError) as exc:
        raise CatalogError(f"malformed products delta: {exc}") from exc
    return b"".join([line + b"\n" for _, line in sorted(lines.items())])


def read_bundle(meta: bytes, products: bytes) -> Catalog:
    """The catalog a bundle's two files describe, validated one product line at a time.

    Many short calls rather than one over the whole file: validating 50,000 products in
    one call held the GIL for 1.5 s, a frozen frame on the kiosk's screen.

    Raises:
        CatalogError: a file that is not JSON, or content that breaks the schema, by line.
    """
    try:
        header = json.loads(meta)
    except ValueError as exc:
        raise CatalogError(f"{META} is not JSON: {exc}") from exc
    if not isinstance(header, dict) or "products" in header:
        raise CatalogError(f"{META} must be a JSON object without products")
    items = []
    for number, line in enumerate(_lines(products), 1):
        if line:
            try:
                items.append(Product.model_validate_json(line))
            except ValidationError as exc:
                raise CatalogError(f"{PRODUCTS} line {number}: {problems(exc)}") from exc
    try:
        return Catalog.model_validate({**header, "products": items})
    except ValidationError as exc:
        raise CatalogError(f"catalog is not valid: {problems(exc)}") from exc


def write_catalog_document(path: Path, meta: bytes, products: bytes) -> None:
    """Write the catalog JSON a kiosk loads at start from a bundle ``read_bundle`` accepted.

    Spliced from the product lines in pieces rather than encoded again: re-encoding
    50,000 products was one 0.8 s call.
    """
    lines = [line for line in _lines(products) if line]
    with atomic_writer(path, PUBLIC) as out:  # on disk whole before the kiosk can switch to it
        out.write(b'{"products":[')
        for start in range(0, len(lines), _LINES_PER_WRITE):
            out.write((b"," if start else b"") + b",".join(lines[start:start + _LINES_PER_WRITE]))
        out.write(b"]," + meta.strip()[1:])  # meta is a non-empty object: its fields follow


def _by_sku(products: bytes) -> dict[str, bytes]:
    return {json.loads(line)["sku"]: line for line in _lines(products) if line}


def _lines(data: bytes) -> Iterator[bytes]:
    """Each line of ``data`` without its end, one short call per line.

    Not ``splitlines``: over a 50,000-product file that is one ~50 ms call holding the
    GIL, a dropped frame on the kiosk's screen.
    """
    return (line.rstrip(b"\r\n") for line in io.BytesIO(data))
