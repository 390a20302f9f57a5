"""The UID -> SKU table staff keep for tags without NDEF: a JSON file shared by the staff
command and a running kiosk."""

from __future__ import annotations

import json
import multiprocessing
from pathlib import Path

import pytest

from nfc_reader import TagKind, TagRead, TagSource, UidTable, UidTableError, normalize_uid
from nfc_reader._reader import identify_by_uid

UID = "04A1B2C3D4E5F6"


def test_missing_file_is_an_empty_table(tmp_path: Path) -> None:
    table = UidTable(tmp_path / "tags.json")
    assert table.lookup(UID) is None
    assert table.entries() == {}
    assert not (tmp_path / "tags.json").exists()


def test_assign_lookup_remove_and_the_file_people_read(tmp_path: Path) -> None:
    path = tmp_path / "staff" / "tags.json"
    table = UidTable(path)
    assert table.assign("04:a1:b2:c3:d4:e5:f6", "BOOT-1") == UID
    table.assign("0102030405060708", "BAG-2")
    assert table.lookup(UID) == "BOOT-1"
    assert table.lookup("04 A1 B2 C3 D4 E5 F6") == "BOOT-1"  # as printed on a label
    assert json.loads(path.read_text()) == {"version": 1, "tags": {"0102030405060708": "BAG-2", UID: "BOOT-1"}}
    table.assign(UID, "BOOT-2")  # reassigning a tag replaces its SKU
    assert UidTable(path).lookup(UID) == "BOOT-2"
    assert table.remove(UID) is True
    assert table.remove(UID) is False
    assert UidTable(path).entries() == {"0102030405060708": "BAG-2"}


@pytest.mark.parametrize(("uid", "sku"), [("zz", "BOOT-1"), ("0102", "BOOT-1"), ("01" * 11, "BOOT-1"),
                                          (UID, "boot-1"), (UID, "")])
def test_invalid_entries_are_refused(tmp_path: Path, uid: str, sku: str) -> None:
    table = UidTable(tmp_path / "tags.json")
    with pytest.raises(ValueError):
        table.assign(uid, sku)
    assert table.entries() == {}


def test_a_running_kiosk_sees_edits_made_by_another_table_object(tmp_path: Path) -> None:
    kiosk, staff = UidTable(tmp_path / "tags.json"), UidTable(tmp_path / "tags.json")
    assert kiosk.lookup(UID) is None
    staff.assign(UID, "BOOT-1")
    assert kiosk.lookup(UID) == "BOOT-1"
    staff.remove(UID)
    assert kiosk.lookup(UID) is None


def _assign_many(path: str, prefix: int) -> None:
    table = UidTable(path)
    for number in range(20):
        table.assign(f"{prefix:02X}{number:012X}", f"SKU-{prefix}-{number}")


def test_concurrent_staff_edits_from_two_processes_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "tags.json")
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_assign_many, args=(path, prefix)) for prefix in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    assert len(UidTable(path).entries()) == 40


@pytest.mark.parametrize("content", [
    "not json", '{"version": 2, "tags": {}}', '{"version": 1, "tags": {"XYZ": "BOOT-1"}}',
    '{"version": 1, "tags": {"04A1B2C3": "lower"}}', '{"version": 1, "tags": []}', '[]',
])
def test_a_broken_file_is_a_clear_error_not_a_crash(tmp_path: Path, content: str) -> None:
    path = tmp_path / "tags.json"
    path.write_text(content)
    table = UidTable(path)
    with pytest.raises(UidTableError, match="tag table"):
        table.lookup(UID)
    with pytest.raises(UidTableError):
        table.assign(UID, "BOOT-1")
    assert path.read_text() == content  # left as it was for a person to fix


def test_normalize_uid() -> None:
    assert normalize_uid("04-a1-b2-c3") == "04A1B2C3"
    with pytest.raises(ValueError, match="not a tag UID"):
        normalize_uid("04A1B")


# (what, NDEF content decoded, table entries, expected kind, sku, source, reason fragment)
IDENTIFY_CASES = [
    ("no NDEF, in the table", None, {UID: "BOOT-1"}, TagKind.PRODUCT, "BOOT-1", TagSource.UID_TABLE, None),
    ("no NDEF, not in the table", None, {}, TagKind.UNREADABLE, None, None, "not in the tag table"),
    ("foreign content, in the table", TagRead.unreadable(UID, "not a product address"), {UID: "BOOT-1"},
     TagKind.PRODUCT, "BOOT-1", TagSource.UID_TABLE, None),
    ("foreign content, not in the table", TagRead.unreadable(UID, "not a product address"), {},
     TagKind.UNREADABLE, None, None, "not a product address"),
    ("product tag wins over the table", TagRead(TagKind.PRODUCT, UID, sku="BAG-9", source=TagSource.URI_RECORD),
     {UID: "BOOT-1"}, TagKind.PRODUCT, "BAG-9", TagSource.URI_RECORD, None),
    ("a card is never a product", TagRead(TagKind.SHOPPER_CARD, UID, token="t.s", source=TagSource.CARD_MIME),
     {UID: "BOOT-1"}, TagKind.SHOPPER_CARD, None, TagSource.CARD_MIME, None),
]


@pytest.mark.parametrize(("what", "decoded", "entries", "kind", "sku", "source", "reason"), IDENTIFY_CASES,
                         ids=[c[0] for c in IDENTIFY_CASES])
def test_identify_by_uid(tmp_path: Path, what: str, decoded: TagRead | None, entries: dict[str, str],
                         kind: TagKind, sku: str | None, source: TagSource | None, reason: str | None) -> None:
    table = UidTable(tmp_path / "tags.json")
    for uid, value in entries.items():
        table.assign(uid, value)
    read = identify_by_uid(UID, decoded, table)
    assert (read.kind, read.sku, read.source) == (kind, sku, source)
    if reason is not None:
        assert read.reason is not None and reason in read.reason


def test_identify_with_a_broken_table_says_so(tmp_path: Path) -> None:
    (tmp_path / "tags.json").write_text("{")
    read = identify_by_uid(UID, None, UidTable(tmp_path / "tags.json"))
    assert read.kind is TagKind.UNREADABLE and "tag table" in (read.reason or "")
