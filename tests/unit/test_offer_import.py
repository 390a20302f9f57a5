"""HQ's offer import: clean CSV and JSON files merge into HQ's offers by id; a file with any
problem is reported by line (CSV) or place (JSON) and changes nothing."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hq import ImportRejected, ProfileStore, import_offers
from hq._offer_import import OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from hq._offers_cli import offer_line
from kiosk_app.cli import main
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import OFFERS_FILE, Catalog, Offer, load_catalog, load_offers

COLUMNS = [*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS]
BOTH = ["madrid-centro", "barcelona-diagonal"]


def offer(**changes: Any) -> dict[str, Any]:
    """An offer as the JSON file holds it: 20% off boots, everyone, both demo stores."""
    return {"id": "WINTER-BOOTS", "title": {"es": "Botas", "en": "Boots"},
            "terms": {"es": "Una vez", "en": "Once"}, "discount": {"kind": "percent", "value": 20},
            "category": "footwear/boots", "stores": BOTH, "starts": "2026-01-01T00:00:00+00:00",
            "ends": "2030-01-01T00:00:00+00:00", "audience": "everyone", "per_shopper": 1, **changes}


def row(**changes: str) -> dict[str, str]:
    """An offer as a CSV row holds it."""
    return {"id": "WINTER-BOOTS", "title_es": "Botas", "title_en": "Boots", "terms_es": "Una vez",
            "terms_en": "Once", "discount_kind": "percent", "discount_value": "20", "skus": "",
            "category": "footwear/boots", "stores": "|".join(BOTH), "starts": "2026-01-01T00:00:00+00:00",
            "ends": "2030-01-01T00:00:00+00:00", "audience": "everyone", "per_shopper": "1", **changes}


def write_json(path: Path, offers: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps(offers, ensure_ascii=False), encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] = COLUMNS) -> Path:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def master() -> Catalog:
    return load_catalog(demo_catalog_path())


@pytest.fixture
def store(sqlite_url: str) -> Iterator[ProfileStore]:
    """HQ's database, holding one offer already, so a refused file is seen to leave it as it was."""
    held = ProfileStore(sqlite_url)
    held.offers.merge([Offer.model_validate(offer(id="OLD-ONE"))])
    yield held
    held.close()


def refused(store: ProfileStore, source: Path, master: Catalog) -> str:
    """The import's message, after checking it changed nothing."""
    before = store.offers.all()
    with pytest.raises(ImportRejected) as caught:
        import_offers(source, store.offers, master)
    assert "nothing imported" in str(caught.value)
    assert store.offers.all() == before
    return str(caught.value)


def test_the_demo_offers_import_and_merge_by_id(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    shipped = demo_catalog_path().with_name(OFFERS_FILE)  # the bundle's own format, {"offers": [...]}
    report = import_offers(shipped, store.offers, master)
    assert report.summary() == "3 added, 0 updated, 0 unchanged"
    assert [o.id for o in store.offers.all()] == ["MEMBERS-KNIT", "OLD-ONE", "SUMMER-SANDALS", "WINTER-BOOTS"]
    assert store.offers.all() == sorted([*load_offers(shipped).offers, store.offers.get("OLD-ONE")],
                                        key=lambda o: o.id)  # type: ignore[arg-type, return-value]
    again = import_offers(write_json(tmp_path / "one.json", [offer(discount={"kind": "percent", "value": 25})]),
                          store.offers, master)
    assert again.summary() == "0 added, 1 updated, 0 unchanged"
    assert store.offers.get("WINTER-BOOTS").discount.value == 25  # type: ignore[union-attr]


def test_a_clean_csv_imports_with_its_lists_and_defaults(tmp_path: Path, store: ProfileStore,
                                                         master: Catalog) -> None:
    rows = [row(id="KNIT-SKUS", category="", skus="KNIT-CREW-OAT | KNIT-CARD-GRN", discount_kind="amount",
                discount_value="10", stores="madrid-centro", audience="", per_shopper=""),
            row(id="FOOTWEAR", category="footwear", discount_kind="price", discount_value="19.95",
                audience="members", per_shopper="3")]
    report = import_offers(write_csv(tmp_path / "in.csv", rows), store.offers, master)
    assert report.summary() == "2 added, 0 updated, 0 unchanged"
    knit, footwear = store.offers.get("KNIT-SKUS"), store.offers.get("FOOTWEAR")
    assert knit is not None and footwear is not None
    assert (knit.skus, knit.category, knit.stores, knit.audience.value, knit.per_shopper) == (
        ("KNIT-CREW-OAT", "KNIT-CARD-GRN"), None, ("madrid-centro",), "everyone", 1)
    assert (footwear.category, footwear.audience.value, footwear.per_shopper) == ("footwear", "members", 3)
    assert knit.title.en == "Boots" and knit.terms.es == "Una vez"


BAD = [  # (what is wrong, the offer's changes, the CSV row's changes, what the message says)
    ("unknown SKU", {"category": None, "skus": ["BOOT-NOPE"]}, {"category": "", "skus": "BOOT-NOPE"},
     "unknown SKUs: BOOT-NOPE"),
    ("unknown category", {"category": "footwear/clogs"}, {"category": "footwear/clogs"},
     "no master product is in category 'footwear/clogs'"),
    ("a category's prefix that is no parent", {"category": "foot"}, {"category": "foot"},
     "no master product is in category 'foot'"),
    ("unknown store", {"stores": ["madrid-centro", "paris-opera"]}, {"stores": "madrid-centro|paris-opera"},
     "unknown stores: paris-opera"),
    ("malformed id", {"id": "winter boots"}, {"id": "winter boots"}, "an offer id is 1 to 48 capital letters"),
    ("negative discount", {"discount": {"kind": "amount", "value": -5}}, {"discount_kind": "amount",
                                                                          "discount_value": "-5"},
     "greater than or equal to 0"),
    ("amount over the price", {"discount": {"kind": "amount", "value": 90}},
     {"discount_kind": "amount", "discount_value": "90"}, "90 is more off than the price of BOOT-CHELSEA-BLK at 89.95"),
    ("fixed price not below the price", {"discount": {"kind": "price", "value": 89.95}},
     {"discount_kind": "price", "discount_value": "89.95"},
     "89.95 is a fixed price not below the price of BOOT-CHELSEA-BLK at 89.95 in madrid-centro"),
    ("end before the start", {"ends": "2025-12-31T00:00:00+00:00"}, {"ends": "2025-12-31T00:00:00+00:00"},
     "is not after starts"),
    ("a time without its zone", {"starts": "2026-01-01T00:00:00"}, {"starts": "2026-01-01T00:00:00"},
     "timezone"),
]


@pytest.mark.parametrize(("changes", "message"), [(c, m) for _, c, _, m in BAD], ids=[w for w, *_ in BAD])
def test_a_bad_json_offer_is_refused_at_its_place(tmp_path: Path, store: ProfileStore, master: Catalog,
                                                  changes: dict[str, Any], message: str) -> None:
    source = write_json(tmp_path / "in.json", [offer(id="FINE-ONE"), offer(**changes)])
    said = refused(store, source, master)
    assert message in said
    assert "\n  [1]" in said and "[0]" not in said  # the second offer, not the first


@pytest.mark.parametrize(("changes", "message"), [(c, m) for _, _, c, m in BAD], ids=[w for w, *_ in BAD])
def test_a_bad_csv_offer_is_refused_at_its_line(tmp_path: Path, store: ProfileStore, master: Catalog,
                                                changes: dict[str, str], message: str) -> None:
    source = write_csv(tmp_path / "in.csv", [row(id="FINE-ONE"), row(**changes)])
    said = refused(store, source, master)
    assert message in said
    assert "line 3" in said and "line 2" not in said  # line 1 is the header


def test_a_field_problem_names_the_csv_column(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    said = refused(store, write_csv(tmp_path / "in.csv", [row(discount_value="-5", title_en="")]), master)
    assert "line 2, discount_value" in said and "line 2, title_en" in said


def test_a_duplicated_id_is_refused_where_it_comes_again(tmp_path: Path, store: ProfileStore,
                                                         master: Catalog) -> None:
    said = refused(store, write_json(tmp_path / "in.json", [offer(), offer(id="OTHER"), offer()]), master)
    assert "[2]: WINTER-BOOTS: duplicated id (first at [0])" in said
    said = refused(store, write_csv(tmp_path / "in.csv", [row(), row(id="OTHER"), row()]), master)
    assert "line 4: WINTER-BOOTS: duplicated id (first at line 2)" in said


def test_a_discount_over_a_stores_own_price_is_refused(tmp_path: Path, store: ProfileStore) -> None:
    """The beanie costs 19.95, but 9.95 in Barcelona: 10 off is more than its price there."""
    data = json.loads(demo_catalog_path().read_text())
    next(p for p in data["products"] if p["sku"] == "ACC-BEANIE-MUS")["prices"] = {"barcelona-diagonal": 9.95}
    master = Catalog.model_validate(data)
    beanie = offer(category=None, skus=["ACC-BEANIE-MUS"], discount={"kind": "amount", "value": 10})
    said = refused(store, write_json(tmp_path / "in.json", [beanie]), master)
    assert "ACC-BEANIE-MUS at 9.95 in barcelona-diagonal" in said and "madrid-centro" not in said
    madrid_only = import_offers(write_json(tmp_path / "madrid.json", [{**beanie, "stores": ["madrid-centro"]}]),
                                store.offers, master)
    assert madrid_only.summary() == "1 added, 0 updated, 0 unchanged"


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    rows = [row(id="bad id"), row(id="NO-STORE", stores="nowhere"), row(id="NO-SKU", category="", skus="X-1")]
    said = refused(store, write_csv(tmp_path / "in.csv", rows), master)
    assert "3 problem(s)" in said and all(f"line {n}" in said for n in (2, 3, 4))


def test_the_csv_header_must_name_the_columns(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    columns = [c for c in COLUMNS if c != "ends"] + ["catgory"]
    said = refused(store, write_csv(tmp_path / "in.csv", [row()], columns), master)
    assert "line 1: missing column ends" in said and "line 1: unknown column catgory" in said


def test_broken_files_are_refused_with_their_place(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('[{"id": "A",\n "title": }]')
    assert "line 2, column" in refused(store, broken, master)
    single = write_json(tmp_path / "single.json", offer())  # type: ignore[arg-type]
    assert "not a list of offers" in refused(store, single, master)
    extra = tmp_path / "extra.csv"
    write_csv(extra, [row()])
    extra.write_text(extra.read_text() + "A,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p\n")
    assert "line 3: 2 more cell(s) than columns" in refused(store, extra, master)
    unknown_field = write_json(tmp_path / "field.json", [offer(colour="red")])
    assert "[0], colour: WINTER-BOOTS: Extra inputs are not permitted" in refused(store, unknown_field, master)
    bundle_form = tmp_path / "bundle.json"
    bundle_form.write_text(json.dumps({"offers": [offer(), offer(id="X", stores=["nowhere"])]}))
    assert "offers[1]: X: unknown stores: nowhere" in refused(store, bundle_form, master)


def test_the_import_command_merges_reports_and_lists(tmp_path: Path, sqlite_url: str) -> None:
    master = str(demo_catalog_path())
    shipped = str(demo_catalog_path().with_name(OFFERS_FILE))
    runner = CliRunner()
    result = runner.invoke(main, ["hq", "offers", "import", shipped, "--db", sqlite_url, "--master", master])
    assert result.exit_code == 0, result.output
    assert "imported 3 offers: 3 added, 0 updated, 0 unchanged" in result.output
    url_file = tmp_path / "db.url"
    url_file.write_text(sqlite_url)
    url_file.chmod(0o600)
    bad = write_csv(tmp_path / "bad.csv", [row(id="NEW-ONE"), row(id="NEW-TWO", skus="NOPE-1", category="")])
    result = runner.invoke(main, ["hq", "offers", "import", str(bad), "--db-url-file", str(url_file),
                                  "--master", master])
    assert result.exit_code == 1 and "line 3: NEW-TWO: unknown SKUs: NOPE-1" in result.output
    result = runner.invoke(main, ["hq", "offers", "list", "--db-url-file", str(url_file)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[:2] for line in lines] == [["MEMBERS-KNIT", "running"], ["SUMMER-SANDALS", "ended"],
                                                   ["WINTER-BOOTS", "running"]]  # NEW-ONE was not imported
    assert lines[2] == ("WINTER-BOOTS  running  madrid-centro,barcelona-diagonal  category footwear/boots  20% off  "
                        "2026-01-01T00:00:00+00:00 .. 2030-01-01T00:00:00+00:00  everyone")


def test_a_listed_line_says_the_state_the_discount_and_the_limit() -> None:
    skus = Offer.model_validate(offer(id="TWO-SKUS", category=None, skus=["SNK-COURT-WHT", "SNK-CANVAS-NVY"],
                                      discount={"kind": "price", "value": 29.95}, stores=["madrid-centro"],
                                      audience="members", per_shopper=2))
    line = offer_line(skus, datetime(2025, 6, 1, tzinfo=UTC))
    assert line == ("TWO-SKUS  scheduled  madrid-centro  skus SNK-COURT-WHT,SNK-CANVAS-NVY  price 29.95  "
                    "2026-01-01T00:00:00+00:00 .. 2030-01-01T00:00:00+00:00  members (x2 per shopper)")
    amount = Offer.model_validate(offer(discount={"kind": "amount", "value": 10}))
    assert "  10 off  " in offer_line(amount, datetime(2027, 1, 1, tzinfo=UTC))


def test_the_documented_csv_imports(tmp_path: Path, store: ProfileStore, master: Catalog) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "offers.md").read_text(encoding="utf-8")
    example = doc.split("```csv\n", 1)[1].split("```", 1)[0]
    source = tmp_path / "documented.csv"
    source.write_text(example, encoding="utf-8")
    assert import_offers(source, store.offers, master).summary() == "2 added, 0 updated, 0 unchanged"
    sneakers = store.offers.get("SNEAKERS")
    assert sneakers is not None and sneakers.title.es == "Zapatillas a 29,95 €"


def test_the_demo_seeds_hq_with_its_offers(tmp_path: Path, sqlite_url: str) -> None:
    from kiosk_app.demo import demo_catalog, seed_offers

    catalog = demo_catalog(tmp_path, "http://127.0.0.1:8000")  # the copy naming the demo's HQ
    assert catalog.with_name(OFFERS_FILE).read_bytes() == demo_catalog_path().with_name(OFFERS_FILE).read_bytes()
    offers = seed_offers(sqlite_url, catalog)
    now = datetime.now(UTC)
    assert {o.id: o.state(now).value for o in offers} == {"MEMBERS-KNIT": "running", "SUMMER-SANDALS": "ended",
                                                          "WINTER-BOOTS": "running"}
    assert seed_offers(sqlite_url, catalog) == offers  # a second run merges the same ones
