"""HQ's catalog import: clean CSV and JSON files become the master catalog; a file with
any problem is reported line by line and changes nothing."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from hq import ImportRejected, import_catalog
from hq._import import MAX_FILE_BYTES, MAX_LINE_BYTES
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import load_catalog

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


# The tests from here on run the command in a child process, as HQ's operator does: a
# couple of seconds each, so they are ``slow``.
KIOSK = [sys.executable, "-m", "kiosk_app"]


def kiosk_import(source: Path, master: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``kiosk hq catalog import`` as HQ's operator runs it."""
    return subprocess.run([*KIOSK, "hq", "catalog", "import", str(source), "--master", str(master), *options],
                          capture_output=True, text=True, timeout=120)


def refused(result: subprocess.CompletedProcess[str], master: Path, before: bytes) -> str:
    """The operator's error, after checking it is one and that the master catalog is untouched."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "nothing imported" in result.stderr
    assert master.read_bytes() == before
    assert not master.with_suffix(".importing").exists()
    return result.stderr


def of_first_product(rows: list[dict[str, str]], column: str, value: str) -> None:
    """Set ``column`` on every row of the first product (lines 2 to 6: BOOT-CHELSEA-BLK's five sizes)."""
    for row in rows:
        if row["sku"] == rows[0]["sku"]:
            row[column] = value


@pytest.mark.slow
@pytest.mark.parametrize(("column", "value", "expected"), [
    ("price", "inf", "line 2, price: BOOT-CHELSEA-BLK: Input should be a finite number"),
    ("price", "1e309", "line 2, price: BOOT-CHELSEA-BLK: Input should be a finite number"),
    ("price", "NaN", "line 2, price: BOOT-CHELSEA-BLK: Input should be a finite number"),
    ("name_en", "=cmd|' /C calc'!A0", "line 2, name_en: BOOT-CHELSEA-BLK: Value error, starts with '='"),
    ("brand", "@SUM(A1:A9)", "line 2, brand: BOOT-CHELSEA-BLK: Value error, starts with '@'"),
    ("brand", "Norte\x00", "line 2, brand: BOOT-CHELSEA-BLK: Value error, contains the control character U+0000"),
    ("description_es", "Botín \u202eetoof\u202c negro", "line 2, description_es: BOOT-CHELSEA-BLK: Value error, "
                                                        "contains the control character U+202E"),
    ("description_en", "x" * 5_000, "line 2, description_en: BOOT-CHELSEA-BLK: String should have at most 4000"),
    ("description_en", "x" * 200_000, "line 2: longer than 131,072 bytes"),
    ("description_en", ("y" * 60_000 + "\n") * 3, "not CSV: field larger than field limit"),
    ("image", "../../hq/hq_key.pem", "line 2, image: BOOT-CHELSEA-BLK: Value error, '../../hq/hq_key.pem' is not "
                                     "images/<name>"),
])
def test_hostile_product_columns_are_refused_by_line(tmp_path: Path, master: Path, column: str, value: str,
                                                     expected: str) -> None:
    before = master.read_bytes()
    rows = demo_rows()
    of_first_product(rows, column, value)
    assert expected in refused(kiosk_import(write_csv(tmp_path / "in.csv", rows), master), master, before)


@pytest.mark.slow
@pytest.mark.parametrize(("value", "expected"), [
    ("²", "line 5, stock:madrid-centro: '²' is not a whole number of units"),  # a digit to str.isdigit
    ("٣", "line 5, stock:madrid-centro: '٣' is not a whole number of units"),  # an Arabic-Indic three
    ("9" * 5_000, "line 5, stock:madrid-centro: '9999"),  # past Python's int() digit limit
    ("-1", "line 5, stock:madrid-centro: '-1' is not a whole number of units"),
])
def test_hostile_stock_is_refused_by_line(tmp_path: Path, master: Path, value: str, expected: str) -> None:
    before = master.read_bytes()
    rows = demo_rows()
    rows[3]["stock:madrid-centro"] = value
    assert expected in refused(kiosk_import(write_csv(tmp_path / "in.csv", rows), master), master, before)


@pytest.mark.slow
def test_an_image_symlinked_out_of_the_catalog_folder_is_refused(tmp_path: Path) -> None:
    secret = tmp_path / "hq" / "hq_key.pem"
    secret.parent.mkdir()
    secret.touch(mode=0o600)
    secret.write_text("-----BEGIN PRIVATE KEY-----\n")
    master = tmp_path / "catalog" / "master.json"
    (master.parent / "images").mkdir(parents=True)
    master.write_bytes(demo_catalog_path().read_bytes())
    (master.parent / "images" / "evil.png").symlink_to(secret)  # next to the master catalog, leading to the key
    before = master.read_bytes()
    rows = demo_rows()
    of_first_product(rows, "image", "images/evil.png")
    report = refused(kiosk_import(write_csv(tmp_path / "in.csv", rows), master), master, before)
    assert "line 2, image: BOOT-CHELSEA-BLK: images/evil.png leads out of the catalog's folder" in report


@pytest.mark.slow
def test_a_spreadsheets_byte_order_mark_is_not_part_of_the_first_column(tmp_path: Path, master: Path) -> None:
    rows = demo_rows()
    of_first_product(rows, "price", "84.95")
    source = tmp_path / "excel.csv"
    with source.open("w", newline="", encoding="utf-8-sig") as out:  # what "CSV UTF-8" in Excel writes
        writer = csv.DictWriter(out, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    assert source.read_bytes().startswith(b"\xef\xbb\xbfsku,")
    result = kiosk_import(source, master)
    assert result.returncode == 0, result.stderr
    assert load_catalog(master).product("BOOT-CHELSEA-BLK").price == 84.95  # type: ignore[union-attr]


@pytest.mark.slow
def test_a_file_past_the_size_cap_is_refused_before_it_is_read(tmp_path: Path, master: Path) -> None:
    before = master.read_bytes()
    source = write_csv(tmp_path / "huge.csv", demo_rows())
    with source.open("r+b") as out:
        out.truncate(MAX_FILE_BYTES + 1)  # sparse: the disk holds a few KB of it
    assert f"file: larger than {MAX_FILE_BYTES:,} bytes" in refused(kiosk_import(source, master), master, before)


@pytest.mark.slow
def test_an_endless_line_is_refused_after_reading_no_more_than_the_line_cap(tmp_path: Path, master: Path) -> None:
    """A line with no end, from a pipe: the import stops at the cap instead of filling memory."""
    before = master.read_bytes()
    source = tmp_path / "endless.csv"
    os.mkfifo(source)
    written: list[int] = []
    limit = 64 * MAX_LINE_BYTES  # where the writer gives up on an import that reads everything

    def feed() -> None:
        total = 0
        try:
            with source.open("wb") as pipe:
                pipe.write((",".join(COLUMNS) + "\n").encode())
                while total < limit:
                    pipe.write(b"A" * 65_536)
                    total += 65_536
        except BrokenPipeError:
            pass  # the import closed its end: what a refusal looks like from here
        written.append(total)

    writer = threading.Thread(target=feed)
    writer.start()
    report = refused(kiosk_import(source, master), master, before)
    writer.join(30)
    assert "line 2: longer than 131,072 bytes" in report
    assert written and written[0] < 4 * MAX_LINE_BYTES  # the line cap plus what the pipe buffers


@pytest.mark.slow
def test_a_json_catalog_with_hostile_values_is_refused_by_place(tmp_path: Path, master: Path) -> None:
    before = master.read_bytes()
    document = demo_catalog_path().read_text()
    infinite = tmp_path / "infinite.json"
    infinite.write_text(document.replace('"price": 89.95', '"price": Infinity', 1))
    assert "products.0.price: Input should be a finite number" in refused(kiosk_import(infinite, master), master,
                                                                          before)
    formula = tmp_path / "formula.json"
    formula.write_text(document.replace('"brand": "Norte"', '"brand": "=HYPERLINK(\\"http://x\\")"', 1))
    assert "products.0.brand: Value error, starts with '='" in refused(kiosk_import(formula, master), master, before)
    nested = tmp_path / "nested.json"
    nested.write_text("[" * 200_000 + "]" * 200_000)
    assert "catalog: nested too deeply" in refused(kiosk_import(nested, master), master, before)


def one_product_csv(tmp_path: Path, sku: str, **changes: str) -> Path:
    rows = [row for row in demo_rows() if row["sku"] == "BOOT-CHELSEA-BLK"]
    for row in rows:
        row.update(sku=sku, **changes)
    return write_csv(tmp_path / f"{sku}.csv", rows)


@pytest.mark.slow
def test_a_partial_csv_is_merged_by_sku_and_the_report_says_what_changed(tmp_path: Path, master: Path) -> None:
    changed = kiosk_import(one_product_csv(tmp_path, "BOOT-CHELSEA-BLK", price="84.95"), master)
    assert changed.returncode == 0, changed.stderr
    assert f"imported 1 products into {master}: 0 added, 1 changed, 0 unchanged" in changed.stdout
    catalog = load_catalog(master)
    assert len(catalog.products) == 12 and catalog.product("BOOT-CHELSEA-BLK").price == 84.95  # type: ignore[union-attr]

    added = kiosk_import(one_product_csv(tmp_path, "BOOT-CHELSEA-RED", colour_en="red", colour_es="rojo"), master)
    assert "1 added, 0 changed, 0 unchanged" in added.stdout
    assert len(load_catalog(master).products) == 13

    before = master.read_bytes()
    again = kiosk_import(tmp_path / "BOOT-CHELSEA-RED.csv", master)
    assert "0 added, 0 changed, 1 unchanged" in again.stdout and master.read_bytes() == before


@pytest.mark.slow
def test_replacing_the_whole_catalog_is_an_explicit_choice(tmp_path: Path, master: Path) -> None:
    result = kiosk_import(one_product_csv(tmp_path, "BOOT-CHELSEA-BLK"), master, "--replace")
    assert result.returncode == 0, result.stderr
    assert "0 added, 0 changed, 1 unchanged, 11 removed" in result.stdout
    assert [p.sku for p in load_catalog(master).products] == ["BOOT-CHELSEA-BLK"]
