"""The wire contract: events round-trip, and foreign payloads are rejected clearly."""

from __future__ import annotations

import json
import uuid

import pytest

from kiosk_protocol import ContractError, EventKind, decode_event, encode_event, events_topic, new_event

EVENT = new_event(kind=EventKind.PRODUCT_VIEW, store="madrid-centro", kiosk="kiosk-01", seq=7,
                  session=uuid.uuid4(), shopper=None, sku="BOOT-1")
TOPIC = events_topic("madrid-centro", "kiosk-01")


def _with(**changes: object) -> bytes:
    body = json.loads(encode_event(EVENT))
    body.update(changes)
    return json.dumps({k: v for k, v in body.items() if v is not ...}).encode()


def test_round_trip() -> None:
    assert decode_event(encode_event(EVENT), topic=TOPIC) == EVENT


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        (_with(v=3), "not a TapEvent"),
        (_with(v=1, card="a.b"), "card token"),  # version 1 carries no card
        (_with(card="a.b"), "card token"),  # an anonymous event has no card to carry
        (_with(sku="bad sku"), "not a TapEvent"),
        (_with(seq=0), "not a TapEvent"),
        (_with(extra="field"), "not a TapEvent"),
        (_with(event_id=...), "not a TapEvent"),
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
