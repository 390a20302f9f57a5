"""The wire contract: events round-trip, and foreign payloads are rejected clearly."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from kiosk_protocol import (
    SHOPPER_PATTERN,
    VIEW_KINDS,
    ContractError,
    EventKind,
    TapEvent,
    decode_event,
    encode_event,
    events_topic,
    new_event,
)

EVENT = new_event(kind=EventKind.PRODUCT_VIEW, store="madrid-centro", kiosk="kiosk-01", seq=7,
                  session=uuid.uuid4(), shopper=None, sku="BOOT-1")
TOUCH = new_event(kind=EventKind.SUGGESTION_TAP, store="madrid-centro", kiosk="kiosk-01", seq=8,
                  session=uuid.uuid4(), shopper=None, sku="BOOT-2", beside="BOOT-1")
TOPIC = events_topic("madrid-centro", "kiosk-01")


def _with(event: TapEvent = EVENT, **changes: object) -> bytes:
    body = json.loads(encode_event(event))
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


@pytest.mark.parametrize("event", [EVENT, TOUCH])
def test_round_trip(event: TapEvent) -> None:
    assert decode_event(encode_event(event), topic=TOPIC) == event


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (_with(v=4), "not a TapEvent"),
        (_with(v=1, card="a.b"), "card token"),  # version 1 carries no card
        (_with(card="a.b"), "card token"),  # an anonymous event has no card to carry
        (_with(sku="bad sku"), "not a TapEvent"),
        (_with(seq=0), "not a TapEvent"),
        (_with(extra="field"), "not a TapEvent"),
        (_with(event_id=...), "not a TapEvent"),
        (_with(beside="BOOT-2"), "unexpected \\['beside'\\]"),  # a tag's view is beside nothing
        (_with(TOUCH, beside=...), "missing \\['beside'\\]"),
        (_with(TOUCH, sku=...), "missing \\['sku'\\]"),
        (_with(TOUCH, beside="bad sku"), "not a TapEvent"),
        (_with(TOUCH, hlc="000000000000001-000000-kiosk-01"), "unexpected \\['hlc'\\]"),
        (_with(TOUCH, v=1), "suggestion_tap event is version 2"),  # no version 1 kiosk sends it
        (_with(TOUCH, beside="B" * 5000), "exceeds"),  # measured before it is parsed
        (b"\x00\x01binary", "not a TapEvent"),
        (b'{"temperature": 21.5}', "not a TapEvent"),
        (b"x" * 20_000, "exceeds"),
    ],
)
def test_foreign_payloads_are_rejected(payload: bytes, fragment: str) -> None:
    with pytest.raises(ContractError, match=fragment):
        decode_event(payload)


def test_event_on_another_kiosks_topic_is_rejected() -> None:
    with pytest.raises(ContractError, match="arrived on"):
        decode_event(encode_event(EVENT), topic=events_topic("madrid-centro", "kiosk-02"))


def test_topic_ids_are_checked() -> None:
    with pytest.raises(ContractError):
        events_topic("madrid/centro", "kiosk-01")


def test_a_touched_suggestion_is_a_view_and_its_largest_form_stays_under_the_event_limit() -> None:
    assert {EventKind.PRODUCT_VIEW, EventKind.SUGGESTION_TAP} == VIEW_KINDS
    # The longest shopper id of three-byte characters, the longest card token and SKUs.
    widest = next(chr(code) for code in range(0x4E00, 0xFFFF) if re.fullmatch(SHOPPER_PATTERN, chr(code)))
    largest = TOUCH.model_copy(update={"shopper": widest * 128, "card": "c" * 1024, "sku": "S" * 32,
                                       "beside": "B" * 32, "seq": 2**63 - 1})
    payload = encode_event(largest)
    assert decode_event(payload) == largest
    assert len(payload) < TapEvent.max_bytes // 2
