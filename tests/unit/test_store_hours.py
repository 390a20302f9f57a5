"""Stores' time zones and opening hours in the catalog: the demo's, what a hostile store
record is told (by its place), and the fields going through everywhere stores are read or
written: the catalog file, HQ's import, the bundle kiosks get, a store's part of the catalog."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hq import ImportRejected, import_catalog
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import Catalog, CatalogError, dump_catalog, load_catalog
from kiosk_protocol._bundle import META, PRODUCTS, catalog_files, read_bundle

DEMO = load_catalog(demo_catalog_path())
MONDAY, SUNDAY = dt.date(2026, 11, 30), dt.date(2026, 12, 6)


def _hours(**days: list[tuple[str, str]]) -> dict[str, Any]:
    return {day: [{"opens": opens, "closes": closes} for opens, closes in spells] for day, spells in days.items()}


def _first_store(**fields: Any) -> Callable[[dict[str, Any]], None]:
    return lambda document: document["stores"][0].update(fields)


# (how a store record is broken, what the catalog check says, at which place).
HOSTILE: list[tuple[Callable[[dict[str, Any]], None], str]] = [
    (_first_store(time_zone="Mars/Olympus_Mons"), "stores.0.time_zone: Value error, 'Mars/Olympus_Mons' is not a "
                                                  "time zone (an IANA name such as Europe/Madrid)"),
    (_first_store(time_zone="../../../etc/passwd"), "stores.0.time_zone: Value error, '../../../etc/passwd' is not"),
    (_first_store(time_zone=""), "stores.0.time_zone: Value error, '' is not a time zone"),
    (_first_store(time_zone="Europe/" + "M" * 200), "stores.0.time_zone: String should have at most 64 characters"),
    (_first_store(time_zone=1), "stores.0.time_zone: Input should be a valid string"),
    (_first_store(opening_hours={"monday": []}), "stores.0.opening_hours.monday.[key]: Input should be 'mon'"),
    (_first_store(opening_hours=_hours(mon=[("9:30", "14:00")])),
     "stores.0.opening_hours.mon.0.opens: Value error, '9:30' is not a time of day as HH:MM (00:00 to 23:59)"),
    (_first_store(opening_hours=_hours(mon=[("10:00", "24:00")])), "opening_hours.mon.0.closes: Value error, '24:00'"),
    (_first_store(opening_hours=_hours(mon=[("09:30+02:00", "14:00")])), "mon.0.opens: Value error, '09:30+02:00'"),
    (_first_store(opening_hours={"mon": [{"opens": 36000, "closes": "14:00"}]}), "mon.0.opens: Value error, '36000'"),
    (_first_store(opening_hours=_hours(mon=[("14:00", "10:00")])),
     "stores.0.opening_hours.mon.0: Value error, opens at 14:00, not before it closes at 10:00"),
    (_first_store(opening_hours=_hours(mon=[("10:00", "10:00")])), "opens at 10:00, not before it closes at 10:00"),
    (_first_store(opening_hours=_hours(sat=[("10:00", "15:00"), ("14:00", "20:00")])),
     "stores.0.opening_hours.sat: Value error, 14:00-20:00 does not come after 10:00-15:00: a day's hours are "
     "listed in order, none overlapping"),
    (_first_store(opening_hours=_hours(sat=[("17:00", "20:00"), ("10:00", "14:00")])),
     "10:00-14:00 does not come after 17:00-20:00"),
    (_first_store(opening_hours=_hours(fri=[(f"{h:02d}:00", f"{h:02d}:30") for h in range(9, 14)])),
     "stores.0.opening_hours.fri: Tuple should have at most 4 items"),
    (_first_store(opening_hours={"mon": [{"opens": "10:00", "closes": "14:00", "break": "12:00"}]}),
     "stores.0.opening_hours.mon.0.break: Extra inputs are not permitted"),
    (_first_store(opening_hours=[]), "stores.0.opening_hours: Input should be an object"),
]


def _written(tmp_path: Path, mutate: Callable[[dict[str, Any]], None]) -> Path:
    document = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    mutate(document)
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_the_demo_stores_keep_their_own_time_and_hours() -> None:
    madrid, barcelona = DEMO.stores
    assert (madrid.time_zone, barcelona.time_zone) == ("Europe/Madrid", "Europe/Madrid")
    assert madrid.spells_on(SUNDAY) == ((dt.time(11), dt.time(21)),)
    assert barcelona.spells_on(MONDAY) == ((dt.time(10), dt.time(14)), (dt.time(16, 30), dt.time(21)))
    assert barcelona.spells_on(SUNDAY) == ()  # closed


def test_a_store_without_hours_is_open_around_the_clock_in_utc() -> None:
    document = json.loads(demo_catalog_path().read_text(encoding="utf-8"))
    document["stores"] = [{"id": "outlet", "name": "Outlet"}]
    for product in document["products"]:
        product["stock"] = {}
    [store] = Catalog.model_validate(document).stores
    assert (store.time_zone, store.opening_hours, store.spells_on(SUNDAY)) == ("UTC", None,
                                                                              ((dt.time.min, dt.time.max),))


@pytest.mark.parametrize(("mutate", "message"), HOSTILE, ids=[message[:60] for _, message in HOSTILE])
def test_a_hostile_store_record_is_refused_with_its_place(tmp_path: Path, mutate: Callable[[dict[str, Any]], None],
                                                          message: str) -> None:
    with pytest.raises(CatalogError) as refused:
        load_catalog(_written(tmp_path, mutate))
    assert message in str(refused.value)


def test_hq_s_import_refuses_hostile_hours_by_place_and_keeps_the_master_as_it_was(tmp_path: Path) -> None:
    master = tmp_path / "master.json"
    master.write_bytes(demo_catalog_path().read_bytes())
    hostile = _written(tmp_path, _first_store(time_zone="Europe/Atlantis"))
    with pytest.raises(ImportRejected) as refused:
        import_catalog(hostile, master, load_catalog(master))
    assert "stores.0.time_zone: Value error, 'Europe/Atlantis' is not a time zone" in str(refused.value)
    assert master.read_bytes() == demo_catalog_path().read_bytes()


def test_hq_s_import_takes_new_hours_from_a_json_file_and_keeps_them_through_a_csv_one(tmp_path: Path) -> None:
    master = tmp_path / "master.json"
    master.write_bytes(demo_catalog_path().read_bytes())
    sundays = _hours(sun=[("12:00", "14:00"), ("17:00", "20:00")])
    changed = _written(tmp_path, _first_store(time_zone="Atlantic/Canary", opening_hours=sundays))
    imported = import_catalog(changed, master, load_catalog(master)).catalog.stores[0]
    assert (imported.time_zone, imported.spells_on(SUNDAY), imported.spells_on(MONDAY)) == (
        "Atlantic/Canary", ((dt.time(12), dt.time(14)), (dt.time(17), dt.time(20))), ())
    assert load_catalog(master).stores[0] == imported  # written as it was read
    written = json.loads(master.read_text(encoding="utf-8"))["stores"][0]
    assert written["opening_hours"] == sundays  # "HH:MM", as a person writes them
    csv_file = tmp_path / "prices.csv"
    csv_file.write_text("sku,name_es,name_en,description_es,description_en,category,brand,colour_es,colour_en,"
                        "price,image,size,stock:madrid-centro\n", encoding="utf-8")  # a header only: no product
    assert import_catalog(csv_file, master, load_catalog(master)).catalog.stores[0] == imported


def test_the_bundle_carries_each_store_s_time_and_hours_and_refuses_hostile_ones() -> None:
    files = catalog_files(DEMO, 9)
    meta = json.loads(files[META])
    assert meta["stores"][1]["opening_hours"]["mon"] == [{"opens": "10:00", "closes": "14:00"},
                                                         {"opens": "16:30", "closes": "21:00"}]
    assert read_bundle(files[META], files[PRODUCTS]).stores == DEMO.stores
    meta["stores"][1]["opening_hours"]["mon"][1]["opens"] = "13:00"
    with pytest.raises(CatalogError, match=r"stores\.1\.opening_hours\.mon: Value error, 13:00-21:00 does not come"):
        read_bundle(json.dumps(meta).encode(), files[PRODUCTS])


def test_a_store_s_part_of_the_catalog_and_the_written_file_keep_its_hours(tmp_path: Path) -> None:
    [barcelona] = DEMO.for_stores(["barcelona-diagonal"]).stores
    assert barcelona == DEMO.stores[1]
    path = tmp_path / "written.json"
    path.write_text(dump_catalog(DEMO), encoding="utf-8")
    assert load_catalog(path).stores == DEMO.stores
