"""The catalog: the demo one loads, broken files get a clear error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import CatalogError, load_catalog


def test_demo_catalog_is_bilingual_and_complete() -> None:
    catalog = load_catalog(demo_catalog_path())
    assert len(catalog.products) >= 10
    for product in catalog.products:
        assert product.name.get("es") and product.name.get("en")
        assert (demo_catalog_path().parent / product.image).is_file()
        for store in catalog.stores:
            assert set(product.stock_in(store.id)) == set(product.sizes)
    first = catalog.products[0]
    assert catalog.product(first.sku) is first
    assert catalog.product("NOPE") is None


def _broken(tmp_path: Path, mutate: object) -> Path:
    data = json.loads(demo_catalog_path().read_text())
    mutate(data)  # type: ignore[operator]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("mutate", "fragment"),
    [
        (lambda d: d["products"][0].pop("name"), "products.0.name"),
        (lambda d: d["products"][1].update(price=-1), "products.1.price"),
        (lambda d: d["products"][0].update(sku="bad sku"), "products.0.sku"),
        (lambda d: d["products"].append(d["products"][0]), "appears twice"),
    ],
)
def test_broken_catalog_is_reported(tmp_path: Path, mutate: object, fragment: str) -> None:
    with pytest.raises(CatalogError, match=fragment.replace(".", r"\.")):
        load_catalog(_broken(tmp_path, mutate))


def test_missing_or_truncated_file_is_reported(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="cannot read"):
        load_catalog(tmp_path / "absent.json")
    truncated = tmp_path / "truncated.json"
    truncated.write_bytes(demo_catalog_path().read_bytes()[:500])
    with pytest.raises(CatalogError, match="not valid"):
        load_catalog(truncated)
