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
import json
from typing import Any

from backend_sync.catalog import Catalog
from backend_sync.exceptions import CatalogError

META = "meta.json"
PRODUCTS = "products.jsonl"
MODEL = "model.bin"  # the one file of a recommender model version


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
        "upsert": [line for sku, line in sorted(new_lines.items()) if old_lines.get(sku) != line],
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
    return b"".join(line.encode() + b"\n" for _, line in sorted(lines.items()))


def compose_catalog(meta: bytes, products: bytes) -> dict[str, Any]:
    """The catalog JSON a kiosk loads, from a bundle's two files."""
    try:
        return {**json.loads(meta), "products": [json.loads(line) for line in products.splitlines() if line]}
    except ValueError as exc:
        raise CatalogError(f"bundle files are not JSON: {exc}") from exc


def _by_sku(products: bytes) -> dict[str, str]:
    lines = [line for line in products.decode().splitlines() if line]
    return {json.loads(line)["sku"]: line for line in lines}
