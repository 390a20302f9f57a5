"""The catalog bundle: HQ's two files become the kiosk's catalog, one product line at a
time, and a broken line is refused by its number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import CatalogError, load_catalog
from kiosk_protocol._bundle import (
    META,
    PRODUCTS,
    apply_delta,
    catalog_files,
    make_delta,
    read_bundle,
    write_catalog_document,
)

DEMO = load_catalog(demo_catalog_path())


def test_a_bundle_reads_back_as_the_catalog_it_was_made_from(tmp_path: Path) -> None:
    files = catalog_files(DEMO, 7)
    catalog = read_bundle(files[META], files[PRODUCTS] + b"\n")  # a trailing blank line is harmless
    by_sku = tuple(sorted(DEMO.products, key=lambda product: product.sku))  # bundles keep products in SKU order
    assert catalog == DEMO.model_copy(update={"catalog_version": 7, "products": by_sku})
    write_catalog_document(tmp_path / "catalog.json", files[META], files[PRODUCTS])
    assert load_catalog(tmp_path / "catalog.json") == catalog  # what the kiosk loads at its next start


def test_a_large_bundle_is_written_in_pieces_that_join_up(tmp_path: Path) -> None:
    products = [DEMO.products[n % len(DEMO.products)].model_copy(update={"sku": f"SKU-{n:05d}"})
                for n in range(2_345)]
    big = DEMO.model_copy(update={"products": tuple(products)})
    files = catalog_files(big, 2)
    write_catalog_document(tmp_path / "catalog.json", files[META], files[PRODUCTS])
    assert load_catalog(tmp_path / "catalog.json") == read_bundle(files[META], files[PRODUCTS])


def test_a_delta_rebuilds_the_next_products_file() -> None:
    old = catalog_files(DEMO, 1)[PRODUCTS]
    cheaper = DEMO.products[0].model_copy(update={"price": 1.0})
    changed = DEMO.model_copy(update={"products": (cheaper, *DEMO.products[2:])})  # one changed, one gone
    new = catalog_files(changed, 2)[PRODUCTS]
    assert apply_delta(old, make_delta(old, new)) == new
    with pytest.raises(CatalogError, match="another version"):
        apply_delta(new, make_delta(old, new))


def lines_with(line_number: int, change: dict[str, object]) -> bytes:
    lines = catalog_files(DEMO, 1)[PRODUCTS].splitlines()
    product = json.loads(lines[line_number - 1])
    lines[line_number - 1] = json.dumps({**product, **change}).encode()
    return b"\n".join(lines)


@pytest.mark.parametrize(("meta", "products", "problem"), [
    (b"{nope", None, "meta.json is not JSON"),
    (b"[1, 2]", None, "meta.json must be a JSON object without products"),
    (b'{"products": []}', None, "without products"),
    (None, lines_with(3, {"price": -5}), "products.jsonl line 3: price: Input should be greater than or equal to 0"),
    (None, lines_with(5, {"colour": "red"}), "products.jsonl line 5: colour"),
    (None, b'{"sku": "A"', "products.jsonl line 1: Invalid JSON"),
    (None, lines_with(2, {"sku": DEMO.products[0].sku}), "appears twice"),
    (None, lines_with(4, {"stock": {"atlantis": {"M": 1}}}), "unknown stores: atlantis"),
    (b'{"catalog_version": 1}', None, "catalog is not valid: currency: Field required"),
])
def test_a_broken_bundle_is_refused_with_where_it_breaks(meta: bytes | None, products: bytes | None,
                                                         problem: str) -> None:
    files = catalog_files(DEMO, 1)
    with pytest.raises(CatalogError) as caught:
        read_bundle(meta or files[META], products or files[PRODUCTS])
    assert problem in str(caught.value)
