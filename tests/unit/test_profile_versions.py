"""Profile responses across versions: a version 1 answer still decodes, a display name
comes only in version 2, and a kiosk from before display names refuses version 2, which
is why HQ answers each request in the version it was asked in. Each version of an answer
and of a pushed change is encoded with exactly its own fields, and refuses a newer one's."""

from __future__ import annotations

import json
import uuid
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from kiosk_protocol import (
    DISPLAY_NAME_MAX,
    PROFILE_VERSION,
    ChangeKind,
    ConsentStatus,
    ContractError,
    ProfileChange,
    ProfileRequest,
    ProfileResponse,
    Sku,
    decode,
)

REQUEST_ID = uuid.uuid4()
# What HQ sent before display names, byte for byte in shape.
VERSION_1 = json.dumps({"v": 1, "request_id": str(REQUEST_ID), "shopper": "shopper-0042", "error": None,
                        "consent": "granted", "recent_skus": ["BOOT-1"], "wishlist": [], "preferences": {}}).encode()


class KioskOfVersion1Response(BaseModel):
    """The profile response as a kiosk from before display names reads it (its schema then)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    v: Literal[1] = 1
    request_id: uuid.UUID
    shopper: str
    error: str | None = None
    consent: ConsentStatus | None = None
    recent_skus: tuple[Sku, ...] = ()
    wishlist: tuple[Sku, ...] = ()
    preferences: dict[str, str] = Field(default_factory=dict)


def test_a_version_1_answer_still_decodes_without_a_name() -> None:
    response = decode(ProfileResponse, VERSION_1)
    assert (response.v, response.recent_skus, response.display_name) == (1, ("BOOT-1",), None)


def test_a_version_2_answer_carries_the_display_name() -> None:
    sent = ProfileResponse(request_id=REQUEST_ID, shopper="shopper-0042", display_name="Lucía")
    assert PROFILE_VERSION == 4 and sent.v == 4
    assert decode(ProfileResponse, sent.model_dump_json().encode()).display_name == "Lucía"


def test_a_kiosk_from_before_display_names_refuses_version_2_and_takes_version_1() -> None:
    newer = ProfileResponse(request_id=REQUEST_ID, shopper="shopper-0042", display_name="Lucía")
    with pytest.raises(ContractError):
        decode(KioskOfVersion1Response, newer.model_dump_json().encode())
    as_asked = ProfileResponse(v=1, request_id=REQUEST_ID, shopper="shopper-0042", recent_skus=("BOOT-1",))
    assert "display_name" not in json.loads(as_asked.model_dump_json())  # not even as null
    assert decode(KioskOfVersion1Response, as_asked.model_dump_json().encode()).recent_skus == ("BOOT-1",)


def test_requests_name_the_version_they_read_and_older_ones_still_decode() -> None:
    assert ProfileRequest(request_id=REQUEST_ID, shopper="s-1", token="t").v == 4
    old = json.dumps({"v": 1, "request_id": str(REQUEST_ID), "shopper": "s-1", "token": "t"}).encode()
    assert decode(ProfileRequest, old).v == 1
    with pytest.raises(ContractError):
        decode(ProfileRequest, json.dumps({"v": 5, "request_id": str(REQUEST_ID), "shopper": "s-1",
                                           "token": "t"}).encode())


@pytest.mark.parametrize("name", [
    "", "x" * (DISPLAY_NAME_MAX + 1), "Ana\nMaría", "Ana\tMaría", "\u202eanA", "Ana\u2066", "\x85Ana",
    "\ufeffAna",
])
def test_a_name_that_would_not_show_as_written_is_refused(name: str) -> None:
    payload = ProfileResponse(request_id=REQUEST_ID, shopper="s-1").model_dump() | {"display_name": name}
    with pytest.raises(ContractError):
        decode(ProfileResponse, json.dumps(payload, default=str).encode())


def test_a_version_1_answer_may_not_carry_a_name() -> None:
    payload = json.loads(VERSION_1) | {"display_name": "Lucía"}
    with pytest.raises(ContractError, match="version 1 profile response carries no display name"):
        decode(ProfileResponse, json.dumps(payload).encode())


# Exactly the fields each version is encoded with, as kiosks of that version read them.
RESPONSE_V1 = {"v", "request_id", "shopper", "error", "consent", "recent_skus", "wishlist", "preferences"}
RESPONSE_FIELDS = {1: RESPONSE_V1, 2: RESPONSE_V1 | {"display_name", "cursor"},
                   3: RESPONSE_V1 | {"display_name", "cursor", "coupons"},
                   4: RESPONSE_V1 | {"display_name", "cursor", "coupons", "orders", "reservations"}}
CHANGE_V1 = {"v", "cursor", "session", "kind", "sku", "key", "value", "display_name", "consent", "hlc"}
CHANGE_FIELDS = {1: CHANGE_V1, 2: CHANGE_V1 | {"offer", "left"},
                 3: CHANGE_V1 | {"offer", "left", "order", "reservation"}}
ORDER = {"order_id": "W-1", "at": "2026-12-01T10:00:00Z", "store": "online", "channel": "web", "skus": ["BOOT-1"],
         "lines": 1, "total": "59.90"}
RESERVATION = {"reservation_id": str(uuid.uuid4()), "sku": "BOOT-1", "size": "41", "kind": "collect",
               "state": "ready", "expires_at": "2026-12-03T10:00:00Z"}
# A field of a newer version, a value it may hold, and the first version that carries it.
NEWER_FIELDS = [
    (ProfileResponse, "display_name", "Lucía", 2),
    (ProfileResponse, "cursor", 5, 2),
    (ProfileResponse, "coupons", ["WINTER-BOOTS"], 3),
    (ProfileChange, "offer", "WINTER-BOOTS", 2),
    (ProfileChange, "left", 1, 2),
    (ProfileResponse, "orders", [ORDER], 4),
    (ProfileResponse, "reservations", [RESERVATION], 4),
]


@pytest.mark.parametrize(("kind", "field", "value"), [
    (ChangeKind.ORDER_PLACED, "order", ORDER), (ChangeKind.RESERVATION, "reservation", RESERVATION)])
def test_orders_and_reservations_are_pushed_as_version_3_changes_only(
        kind: ChangeKind, field: str, value: object) -> None:
    change = {"cursor": 9, "session": str(REQUEST_ID), "kind": kind.value, field: value}
    pushed = decode(ProfileChange, json.dumps({"v": 3, **change}).encode())
    assert getattr(pushed, field) is not None
    for older in (1, 2):
        with pytest.raises(ContractError):
            decode(ProfileChange, json.dumps({"v": older, **change}).encode())
    with pytest.raises(ContractError, match="missing"):
        decode(ProfileChange, json.dumps({"v": 3, "cursor": 9, "session": str(REQUEST_ID),
                                          "kind": kind.value}).encode())


def _message(model: type[ProfileResponse | ProfileChange], v: int) -> ProfileResponse | ProfileChange:
    if model is ProfileResponse:
        return ProfileResponse(v=v, request_id=REQUEST_ID, shopper="shopper-0042")  # type: ignore[arg-type]
    return ProfileChange(v=v, cursor=3, session=REQUEST_ID, kind=ChangeKind.ERASE)  # type: ignore[arg-type]


@pytest.mark.parametrize(("model", "v", "fields"), [
    *[(ProfileResponse, v, fields) for v, fields in RESPONSE_FIELDS.items()],
    *[(ProfileChange, v, fields) for v, fields in CHANGE_FIELDS.items()],
])
def test_each_version_is_encoded_with_exactly_its_fields(
        model: type[ProfileResponse | ProfileChange], v: int, fields: set[str]) -> None:
    message = _message(model, v)
    encoded = message.model_dump_json().encode()
    assert set(json.loads(encoded)) == fields == set(message.model_dump())
    assert decode(model, encoded) == message


@pytest.mark.parametrize(("model", "field", "value", "since"), NEWER_FIELDS)
def test_a_field_of_a_newer_version_is_refused_on_an_older_message(
        model: type[ProfileResponse | ProfileChange], field: str, value: object, since: int) -> None:
    for v in range(1, since):
        payload = json.loads(_message(model, v).model_dump_json()) | {field: value}
        with pytest.raises(ContractError):
            decode(model, json.dumps(payload).encode())
        with pytest.raises(ValueError):
            model.model_validate(payload)
    newest = json.loads(_message(model, since).model_dump_json())
    assert field in newest  # the version that added it carries it (here as its default)
