"""HQ's catalog import: clean CSV and JSON files become the master catalog; a file with
any problem is reported line by line and changes nothing."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from backend_sync import load_catalog
from backend_sync.hq import ImportRejected, import_catalog
from kiosk_app.demo import demo_catalog_path

COLUMNS = ["sku", "name_es", "name_en", "description_es", "description_en", "category", "brand", "colour_es",
           "colour_en", "price", "image", "size", "stock:madrid-centro", "stock:barcelona-diagonal"]


def demo_rows() -> list[dict[str, str]]:
    """The demo catalog as CSV rows, one per product and size."""
    rows = []
    for p in load_catalog(demo_catalog_path()).products:
        for size in p.sizes:
            rows.append({"sku": p.sku, "name_es": p.name.es, "name_en": p.name.en,
                         "description_es": p.description.es, "description_en": p.description.en,
                         "category": p.category, "brand": p.brand, "colour_es": p.colour.es,
                         "colour_en": p.colour.en, "price": str(p.price), "image": p.image, "size": size,
                         "stock:madrid-centro": str(p.stock_in("madrid-centro")[size]),
                         "stock:barcelona-diagonal": str(p.stock_in("barcelona-diagonal")[size])})
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def master(tmp_path: Path) -> Path:
    path = tmp_path / "master.json"
    path.write_bytes(demo_catalog_path().read_bytes())
    return path


def test_a_clean_csv_becomes_the_master_catalog(tmp_path: Path, master: Path) -> None:
    rows = demo_rows()
    for row in rows:
        if row["sku"] == "BOOT-CHELSEA-BLK":
            row["price"] = "84.95"
    report = import_catalog(write_csv(tmp_path / "in.csv", rows), master, load_catalog(master))
    imported = report.catalog
    assert load_catalog(master) == imported
    assert (len(report.added), report.changed, len(report.unchanged), report.removed) == (0, ("BOOT-CHELSEA-BLK",),
                                                                                          11, ())
    assert imported.product("BOOT-CHELSEA-BLK").price == 84.95  # type: ignore[union-attr]
    assert imported.products == tuple(p.model_copy(update={"price": 84.95}) if p.sku == "BOOT-CHELSEA-BLK" else p
                                      for p in load_catalog(demo_catalog_path()).products)


def test_a_bad_csv_is_reported_by_line_and_changes_nothing(tmp_path: Path, master: Path) -> None:
    before = master.read_bytes()
    rows = demo_rows()
    line = {id(row): number for number, row in enumerate(rows, start=2)}  # line 1 is the header
    of = {sku: [row for row in rows if row["sku"] == sku] for sku in {row["sku"] for row in rows}}
    for row in of["BOOT-CHELSEA-BLK"]:
        row["price"] = "cheap"
    of["SNK-COURT-WHT"][1]["stock:madrid-centro"] = "-1"
    of["COAT-WOOL-GRY"][1]["size"] = of["COAT-WOOL-GRY"][0]["size"]
    of["KNIT-CREW-OAT"][2]["name_en"] = "Another name"
    with pytest.raises(ImportRejected) as caught:
        import_catalog(write_csv(tmp_path / "in.csv", rows), master, load_catalog(master))
    report = str(caught.value)
    assert f"line {line[id(of['BOOT-CHELSEA-BLK'][0])]}, price" in report and "valid number" in report
    assert f"line {line[id(of['SNK-COURT-WHT'][1])]}, stock:madrid-centro" in report
    assert f"line {line[id(of['COAT-WOOL-GRY'][1])]}, size" in report and "repeated" in report
    assert f"line {line[id(of['KNIT-CREW-OAT'][2])]}: KNIT-CREW-OAT: differs from its first row" in report
    assert len(caught.value.problems) == 4
    assert master.read_bytes() == before


def test_missing_columns_are_reported_at_the_header(tmp_path: Path, master: Path) -> None:
    source = write_csv(tmp_path / "in.csv", demo_rows(), [c for c in COLUMNS if c != "brand"])
    with pytest.raises(ImportRejected, match="line 1: missing column brand"):
        import_catalog(source, master, load_catalog(master))


def test_a_broken_json_file_is_reported_with_its_place(tmp_path: Path, master: Path) -> None:
    before = master.read_bytes()
    syntax = tmp_path / "syntax.json"
    syntax.write_text('{\n  "products": [\n    {"sku": "A",}\n  ]\n}\n')
    with pytest.raises(ImportRejected, match="line 3, column"):
        import_catalog(syntax, master)
    fields = tmp_path / "fields.json"
    document = json.loads(demo_catalog_path().read_text())
    document["products"][2]["price"] = -5
    fields.write_text(json.dumps(document))
    with pytest.raises(ImportRejected, match=r"products\.2\.price"):
        import_catalog(fields, master)
    assert master.read_bytes() == before


def test_the_import_command_reports_and_exits_non_zero_on_a_bad_file(tmp_path: Path, master: Path) -> None:
    from click.testing import CliRunner

    from kiosk_app.cli import main

    rows = demo_rows()
    good = write_csv(tmp_path / "good.csv", rows)
    result = CliRunner().invoke(main, ["hq", "catalog", "import", str(good), "--master", str(master)])
    assert result.exit_code == 0 and "imported 12 products" in result.output
    rows[0]["category"] = ""
    rows[0]["sku"] = "bad sku"
    bad = write_csv(tmp_path / "bad.csv", rows)
    result = CliRunner().invoke(main, ["hq", "catalog", "import", str(bad), "--master", str(master)])
    assert result.exit_code == 1 and "nothing imported" in result.output and "line 2" in result.output


def test_per_store_prices_and_assortment(tmp_path: Path, master: Path) -> None:
    rows = demo_rows()
    for row in rows:
        row["price:barcelona-diagonal"] = "79.95" if row["sku"] == "BOOT-CHELSEA-BLK" else ""
        row["sold_in"] = "madrid-centro" if row["sku"] == "ACC-BEANIE-MUS" else ""
    source = write_csv(tmp_path / "in.csv", rows, [*COLUMNS, "price:barcelona-diagonal", "sold_in"])
    catalog = import_catalog(source, master, load_catalog(master)).catalog
    boot, beanie = catalog.product("BOOT-CHELSEA-BLK"), catalog.product("ACC-BEANIE-MUS")
    assert boot is not None and beanie is not None
    assert (boot.price_in("madrid-centro"), boot.price_in("barcelona-diagonal")) == (89.95, 79.95)
    assert beanie.sold_in("madrid-centro") and not beanie.sold_in("barcelona-diagonal")
    barcelona = catalog.for_stores(["barcelona-diagonal"])  # what a regional bundle carries
    assert barcelona.product("ACC-BEANIE-MUS") is None and len(barcelona.products) == 11
    assert [s.id for s in barcelona.stores] == ["barcelona-diagonal"]
    assert set(barcelona.product("BOOT-CHELSEA-BLK").stock) == {"barcelona-diagonal"}  # type: ignore[union-attr]

    rows[0]["sold_in"] = "valencia-colon"  # a store the catalog does not know
    bad = write_csv(tmp_path / "bad.csv", rows, [*COLUMNS, "price:barcelona-diagonal", "sold_in"])
    with pytest.raises(ImportRejected, match="unknown stores: valencia-colon"):
        import_catalog(bad, master, load_catalog(master))
