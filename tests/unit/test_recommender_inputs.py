"""Recommender inputs: click logs and item features, good and bad (the catalog file itself is
checked by ``kiosk_protocol.load_catalog``, see test_catalog.py)."""

from __future__ import annotations

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
    read_event_log,
)


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


def test_order_rows_are_kept_apart_from_views_and_an_unknown_kind_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "events.tsv"
    path.write_text(
        "SessionId\tItemId\tTime\tChannel\tStore\tKind\n"
        "visit-1\tA\t10\tkiosk\tmadrid\tview\n"
        "visit-1\tB\t20\tkiosk\tmadrid\tVIEW\n"
        "order:web-1\tB\t30\tweb\t\torder\n"
        "order:web-1\tC\t30\tweb\t\torder\n"
        "order:till-7\tA\t40\tstore\tmadrid\torder\n"
        "visit-2\tC\t50\tapp\t\treturn\n"
        "visit-2\tC\t50\tapp\t\t\n"
    )
    log = read_event_log([path])
    assert (len(log), log.n_sessions, log.skipped_rows) == (2, 1, 2)  # an unknown kind, and none, are skipped
    assert [log.item_ids[i] for i in log.items] == ["A", "B"]
    orders = log.orders
    assert orders is not None and (len(orders), orders.n_sessions) == (3, 2)
    assert [orders.item_ids[i] for i in orders.items] == ["B", "C", "A"]
    assert [list(Channel)[c] for c in orders.channels] == [Channel.WEB, Channel.WEB, Channel.STORE]
    assert orders.store_ids == ("madrid",) and orders.stores.tolist() == [-1, -1, 0]
    assert build_model(None, log).info.n_clicks == 2  # the model is built on the views


def test_a_log_without_a_kind_column_is_all_views_and_one_of_orders_alone_says_so(tmp_path: Path) -> None:
    views = tmp_path / "views.tsv"
    views.write_text("SessionId\tItemId\tTime\n1\tA\t10\n")
    assert read_event_log([views]).orders is None
    only_orders = tmp_path / "orders.tsv"
    only_orders.write_text("SessionId\tItemId\tTime\tKind\norder:1\tA\t10\torder\n")
    with pytest.raises(EmptyEventLogError, match="only 1 order lines"):
        read_event_log([only_orders])


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
