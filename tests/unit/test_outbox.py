"""The kiosk's outbox: committed before sending, deleted only on acknowledgement."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend_sync import Outbox, OutboxFull


def test_messages_wait_in_order_until_hq_receipts_them(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    seqs = [outbox.enqueue("t", lambda seq: f"m{seq}".encode()) for _ in range(3)]
    assert [m.payload for m in outbox.pending()] == [f"m{s}".encode() for s in seqs]
    assert outbox.acknowledge([seqs[1], 999]) == 1
    assert [m.seq for m in outbox.pending()] == [seqs[0], seqs[2]]
    assert len(outbox) == 2


def test_sent_messages_are_due_again_only_when_no_receipt_came(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    first, second, third = (outbox.enqueue("t", lambda s: b"m") for _ in range(3))
    assert [m.seq for m in outbox.due(30, exclude=[third], now=1000)] == [first, second]
    outbox.mark_sent([first, second], now=1000)  # PUBACK: the broker has them
    assert [m.seq for m in outbox.due(30, now=1010)] == [third]
    assert [m.seq for m in outbox.due(30, now=1031)] == [first, second, third]  # no receipt: resend
    outbox.acknowledge([first])
    assert [m.seq for m in outbox.due(30, now=1031)] == [second, third]


def test_messages_and_sequence_survive_a_restart(tmp_path: Path) -> None:
    first = Outbox(tmp_path / "o.sqlite")
    seq = first.enqueue("t", lambda s: b"kept")
    first.acknowledge([first.enqueue("t", lambda s: b"stored at HQ")])
    first.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert [(m.seq, m.payload) for m in again.pending()] == [(seq, b"kept")]
    assert again.last_sequence() == seq + 1
    assert again.enqueue("t", lambda s: b"next") == seq + 2  # sequences never go back


def test_full_outbox_drops_the_oldest_anonymous_event_never_a_shoppers(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_rows=3)
    outbox.enqueue("t", lambda s: b"anon-1", droppable=True)
    outbox.enqueue("t", lambda s: b"shopper-1")
    outbox.enqueue("t", lambda s: b"anon-2", droppable=True)
    outbox.enqueue("t", lambda s: b"shopper-2")  # full: anon-1 makes room
    outbox.enqueue("t", lambda s: b"anon-3", droppable=True)  # full: anon-2 makes room
    assert [m.payload for m in outbox.pending()] == [b"shopper-1", b"shopper-2", b"anon-3"]
    assert outbox.dropped == 2


def test_outbox_full_of_shoppers_events_refuses_anonymous_but_keeps_shoppers(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_rows=2)
    outbox.enqueue("t", lambda s: b"shopper-1")
    outbox.enqueue("t", lambda s: b"shopper-2")
    with pytest.raises(OutboxFull):
        outbox.enqueue("t", lambda s: b"anon", droppable=True)
    outbox.enqueue("t", lambda s: b"shopper-3")  # past the bound, never lost
    assert [m.payload for m in outbox.pending()] == [b"shopper-1", b"shopper-2", b"shopper-3"]
    assert outbox.dropped == 0


def test_failing_payload_leaves_nothing_behind(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")

    def broken(seq: int) -> bytes:
        raise ValueError("cannot encode")

    with pytest.raises(ValueError):
        outbox.enqueue("t", broken)
    assert len(outbox) == 0


def test_a_sequence_floor_is_continued_above_and_never_moves_the_sequence_back(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", sequence_floor=100)  # HQ may hold up to 100
    assert outbox.enqueue("t", lambda s: b"m") == 101
    outbox.continue_after(50)
    assert outbox.enqueue("t", lambda s: b"m") == 102
    outbox.close()
    assert Outbox(tmp_path / "o.sqlite", sequence_floor=10).enqueue("t", lambda s: b"m") == 103
