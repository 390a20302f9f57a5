"""A shopper's display name: one rule for what it may hold (the OpenAPI pattern and the
validator agree), set by any channel, merged by HLC like a preference, exported, erased."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from hq import ApiKeys, ProfileStore, create_app
from kiosk_protocol import DisplayName, EventKind, Hlc, new_event
from kiosk_protocol._ids import DISPLAY_NAME_PATTERN

KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef"}
WEB, APP = {"X-Api-Key": KEYS["web"]}, {"X-Api-Key": KEYS["app"]}
SHOPPER = "shopper-0042"
NAME_PATH = f"/v1/shoppers/{SHOPPER}/display-name"
NAMES = TypeAdapter(DisplayName)
# (name, taken): names from the world, and what would move, hide or pad text on a screen.
CASES = [("Ana María", True), ("李小龍", True), ("Zoë O'Neil-Ávila", True), ("x" * 64, True), ("A", True),
         ("", False), ("x" * 65, False), (" Ana", False), ("Ana\u00a0", False), ("An\u202ea", False),
         ("A\nna", False), ("Ana\u2028", False), ("\u200bAna", False), ("Ana\x7f", False), ("🌸 Ana", False)]


def _taken(name: str) -> bool:
    try:
        NAMES.validate_python(name)
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize(("name", "taken"), CASES)
def test_what_a_display_name_may_hold(name: str, taken: bool) -> None:
    assert _taken(name) is taken


@given(st.text(st.characters(codec="utf-8"), max_size=70))
def test_the_pattern_in_the_api_document_is_the_rule_the_validator_applies(name: str) -> None:
    by_pattern = re.fullmatch(DISPLAY_NAME_PATTERN, name) is not None and 1 <= len(name) <= 64
    assert _taken(name) is by_pattern


@pytest.fixture
def store(postgres_url: str) -> Iterator[ProfileStore]:
    profile_store = ProfileStore(postgres_url)
    yield profile_store
    profile_store.close()


def test_a_display_name_merges_by_hlc_shows_in_the_profile_and_export_and_goes_with_an_erase(
        store: ProfileStore) -> None:
    api = TestClient(create_app(store, ApiKeys(KEYS)))
    assert api.put(f"/v1/shoppers/{SHOPPER}/consent", headers=WEB, json={"status": "granted"}).status_code == 200
    assert api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()["display_name"] is None
    set_by_web = api.put(NAME_PATH, headers=WEB, json={"display_name": "Ana"}).json()
    assert set_by_web["display_name"] == "Ana"
    stale = Hlc.parse(set_by_web["hlc"])
    store.record(new_event(kind=EventKind.DISPLAY_NAME, store="madrid-centro", kiosk="kiosk-01", seq=1,
                           session=uuid.uuid4(), shopper=SHOPPER, display_name="Old",
                           hlc=str(Hlc(stale.wall_ms - 1, 0, "kiosk-01"))))  # made before the web's, arrives after
    assert api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()["display_name"] == "Ana"
    assert api.put(NAME_PATH, headers=APP, json={"display_name": "Ana María"}).json()["display_name"] == "Ana María"
    assert api.get(f"/v1/shoppers/{SHOPPER}/export", headers=WEB).json()["display_name"] == "Ana María"
    assert [c.fields["display_name"] for c in store.changes.page(0, 100) if c.kind == "display_name"] == [
        "Ana", "Ana María"]  # the stale one changed nothing

    assert api.delete(f"/v1/shoppers/{SHOPPER}", headers=WEB).status_code == 200
    assert store.profile(SHOPPER).display_name is None
    gone = api.put(NAME_PATH, headers=WEB, json={"display_name": "Ana"})
    assert (gone.status_code, gone.json()["error"]) == (410, "erased")
