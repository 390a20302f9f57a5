"""Recommender inputs: catalog JSON and click logs, good and bad."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recommender import (
    CatalogInputError,
    Channel,
    ClickLog,
    EmptyCatalogError,
    EmptyEventLogError,
    EventLogError,
    InputError,
    ItemFeatures,
    build_model,
    items_from_catalog_document,
    read_catalog,
    read_event_log,
)

DEMO_CATALOG = Path(__file__).resolve().parents[2] / "assets" / "catalog" / "demo.json"
PRODUCT = {"sku": "A-1", "name": {"es": "Bolso", "en": "Bag"}, "category": "bags/totes", "brand": "Alba",
           "price": 10.0, "stock": {"madrid": {"S": 1, "M": 2}, "bilbao": 0}}


def test_demo_catalog_reads_both_languages_stock_and_groups() -> None:
    items = read_catalog(DEMO_CATALOG)
    assert len(items) == 12
    boot = items[0]
    assert boot.item_id == "BOOT-CHELSEA-BLK"
    assert "Botín Chelsea negro" in boot.texts and "Black Chelsea boot" in boot.texts
    assert boot.stock == {"madrid-centro": 11, "barcelona-diagonal": 7}
    assert boot.diversity_group == items[1].diversity_group == "Norte|footwear/boots"
    assert boot.attributes == ("colour:negro",)


BAD_CATALOGS = [
    ({"products": []}, EmptyCatalogError, "no products"),
    ([], CatalogInputError, "'products' list"),
    ({"products": [{"name": "x"}]}, CatalogInputError, "#0 has no 'sku'"),
    ({"products": [PRODUCT, PRODUCT]}, CatalogInputError, "appears twice"),
    ({"products": [{**PRODUCT, "price": -1}]}, CatalogInputError, "price"),
    ({"products": [{**PRODUCT, "name": {"es": 3}}]}, CatalogInputError, "name"),
    ({"products": [{**PRODUCT, "stock": {"madrid": {"S": -2}}}]}, CatalogInputError, "stock"),
]


@pytest.mark.parametrize(("document", "error", "message"), BAD_CATALOGS)
def test_bad_catalogs_get_a_clear_error(document: object, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        items_from_catalog_document(document)


def test_unreadable_catalog_files(tmp_path: Path) -> None:
    with pytest.raises(CatalogInputError, match="cannot read"):
        read_catalog(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(CatalogInputError, match="not JSON"):
        read_catalog(tmp_path / "bad.json")
    (tmp_path / "ok.json").write_text(json.dumps({"products": [PRODUCT]}))
    assert read_catalog(tmp_path / "ok.json")[0].stock == {"madrid": 3, "bilbao": 0}


def test_event_log_reads_channels_and_stores_and_skips_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    path.write_text(
        "SessionId\tItemId\tTime\tChannel\tStore\n"
        "1\tB\t20\tkiosk\tmadrid\n"
        "1\tA\t10\tkiosk\tmadrid\n"
        "2\tA\t5\tweb\t\n"
        "2\tC\tnot-a-time\tweb\t\n"
        "3\tC\t7\tfax\t\n"
        "short row\n"
    )
    log = read_event_log([path])
    assert log.skipped_rows == 3
    assert len(log) == 3 and log.n_sessions == 2
    assert [log.item_ids[i] for i in log.items] == ["A", "B", "A"]  # sorted by session, then time
    assert log.store_ids == ("madrid",) and log.stores.tolist() == [0, 0, -1]
    assert [list(Channel)[c] for c in log.channels] == [Channel.KIOSK, Channel.KIOSK, Channel.WEB]
    assert log.session_bounds().tolist() == [0, 2, 3]


def test_sessions_do_not_span_files(tmp_path: Path) -> None:
    for name in ("a.tsv", "b.tsv"):
        (tmp_path / name).write_text("SessionId\tItemId\tTime\n1\tX\t1\n1\tY\t2\n")
    assert read_event_log([tmp_path / "a.tsv", tmp_path / "b.tsv"]).n_sessions == 2


def test_bad_event_logs_get_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "header.tsv").write_text("Session\tItem\tTime\n1\tA\t1\n")
    with pytest.raises(EventLogError, match="missing column"):
        read_event_log([tmp_path / "header.tsv"])
    (tmp_path / "empty.tsv").write_text("SessionId\tItemId\tTime\n")
    with pytest.raises(EmptyEventLogError, match="no clicks"):
        read_event_log([tmp_path / "empty.tsv"])
    (tmp_path / "blank.tsv").write_text("")
    with pytest.raises(EmptyEventLogError):
        read_event_log([tmp_path / "blank.tsv"])
    with pytest.raises(EventLogError, match="cannot read"):
        read_event_log([tmp_path / "missing.tsv"])
    with pytest.raises(EmptyEventLogError):
        read_event_log([])


def test_build_refuses_empty_inputs() -> None:
    with pytest.raises(EmptyCatalogError):
        build_model([])
    with pytest.raises(EmptyEventLogError):
        build_model(None, ClickLog.from_clicks([]))
    with pytest.raises(InputError):
        build_model()
    with pytest.raises(CatalogInputError, match="twice"):
        build_model([ItemFeatures("A"), ItemFeatures("A")])
    with pytest.raises(ValueError):
        ItemFeatures("")
