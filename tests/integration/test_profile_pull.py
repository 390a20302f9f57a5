"""Signing in pulls the shopper's cross-channel profile from HQ over MQTT request/response,
falls back to the kiosk's cache when HQ is out of reach, and an erase at HQ reaches kiosks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ProfileResponder, ProfileStore, tell_fleet_to_forget
from kiosk_app import KioskConfig, KioskRuntime, OutcomeKind, TapOutcome
from kiosk_app._broker import EmbeddedBroker
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import EventKind, Hlc, Role, issue_token, new_event, shopper_hash
from kiosk_protocol._cards import card_verifier
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

SHOPPER = "shopper-0042"


@pytest.fixture
def hq_with_history(sqlite_url: str) -> Iterator[ProfileStore]:
    store = ProfileStore(sqlite_url)
    web, app = uuid.uuid4(), uuid.uuid4()
    store.record_many([
        new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=web, shopper=SHOPPER,
                  sku="COAT-WOOL-GRY"),
        new_event(kind=EventKind.PRODUCT_VIEW, store="barcelona-diagonal", kiosk="kiosk-07", seq=1, session=app,
                  shopper=SHOPPER, sku="BAG-TOTE-BRN"),
        new_event(kind=EventKind.WISHLIST_ADD, store="web", kiosk="web-shop", seq=2, session=web, shopper=SHOPPER,
                  sku="BOOT-CHELSEA-TAN", hlc=str(Hlc(1, 0, "web"))),
    ])
    yield store
    store.close()


def _runtime(tmp_path: Path, broker: str, hq_key: tuple[Ed25519PrivateKey, Path],
             outcomes: list[TapOutcome] | None = None) -> KioskRuntime:
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(),
                         reader="udp:127.0.0.1:9", broker=broker, data_dir=tmp_path / "kiosk",
                         hq_public_key=hq_key[1])
    runtime = KioskRuntime(config, on_outcome=(outcomes if outcomes is not None else []).append)
    runtime.link.start()  # no reader needed here
    assert runtime.link.subscribed.wait(10)
    return runtime


def _responder(broker: str, store: ProfileStore, hq_key: tuple[Ed25519PrivateKey, Path]) -> ProfileResponder:
    responder = ProfileResponder(broker, store, card_verifier(hq_key[0].public_key()))
    responder.start()
    assert responder.subscribed.wait(10)
    return responder


def test_sign_in_brings_the_cross_channel_profile(mosquitto: Mosquitto, hq_with_history: ProfileStore,
                                                  hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    responder = _responder(mosquitto.url, hq_with_history, hq_key)
    runtime = _runtime(tmp_path, mosquitto.url, hq_key)
    try:
        profile = runtime.fetch_profile(SHOPPER, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60))
        assert profile is not None and not profile.from_cache
        assert profile.response.recent_skus == ("BAG-TOTE-BRN", "COAT-WOOL-GRY")  # newest first
        assert profile.response.wishlist == ("BOOT-CHELSEA-TAN",)
        assert responder.stats.answered == 1
    finally:
        runtime.link.stop()
        responder.stop()


def test_a_suggestion_touched_at_a_kiosk_is_among_the_recent_views(mosquitto: Mosquitto, sqlite_url: str,
                                                                    hq_key: tuple[Ed25519PrivateKey, Path],
                                                                    tmp_path: Path) -> None:
    store = ProfileStore(sqlite_url)
    store.record_many([
        new_event(kind=EventKind.PRODUCT_VIEW, store="web", kiosk="web-shop", seq=1, session=uuid.uuid4(),
                  shopper=SHOPPER, sku="COAT-WOOL-GRY"),
        new_event(kind=EventKind.SUGGESTION_TAP, store="barcelona-diagonal", kiosk="kiosk-07", seq=1,
                  session=uuid.uuid4(), shopper=SHOPPER, sku="BAG-TOTE-BRN", beside="COAT-WOOL-GRY"),
    ])
    responder = _responder(mosquitto.url, store, hq_key)
    runtime = _runtime(tmp_path, mosquitto.url, hq_key)
    try:
        profile = runtime.fetch_profile(SHOPPER, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60))
        assert profile is not None
        assert profile.response.recent_skus == ("BAG-TOTE-BRN", "COAT-WOOL-GRY")  # newest first
    finally:
        runtime.link.stop()
        responder.stop()
        store.close()


def test_hq_answers_only_for_the_shopper_on_the_card(mosquitto: Mosquitto, hq_with_history: ProfileStore,
                                                     hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    responder = _responder(mosquitto.url, hq_with_history, hq_key)
    runtime = _runtime(tmp_path, mosquitto.url, hq_key)
    try:
        someone_else = issue_token(hq_key[0], "shopper-0001", Role.SHOPPER, 60)
        forged = issue_token(Ed25519PrivateKey.generate(), SHOPPER, Role.SHOPPER, 60)
        assert runtime.fetch_profile(SHOPPER, someone_else) is None
        assert runtime.fetch_profile(SHOPPER, forged) is None
        assert (responder.stats.refused, responder.stats.answered) == (2, 0)
    finally:
        runtime.link.stop()
        responder.stop()


def test_without_hq_the_kiosk_falls_back_to_what_it_knew(mosquitto: Mosquitto, hq_with_history: ProfileStore,
                                                         hq_key: tuple[Ed25519PrivateKey, Path],
                                                         tmp_path: Path) -> None:
    token = issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60)
    responder = _responder(mosquitto.url, hq_with_history, hq_key)
    runtime = _runtime(tmp_path, mosquitto.url, hq_key)
    try:
        assert runtime.fetch_profile(SHOPPER, token) is not None
        responder.stop()  # HQ goes away
        fallback = runtime.fetch_profile(SHOPPER, token)
        assert fallback is not None and fallback.from_cache
        assert fallback.response.wishlist == ("BOOT-CHELSEA-TAN",)
        assert runtime.fetch_profile("shopper-never-seen", issue_token(hq_key[0], "shopper-never-seen",
                                                                        Role.SHOPPER, 60)) is None
    finally:
        runtime.link.stop()


def test_an_erase_at_hq_empties_kiosk_caches_and_signs_the_shopper_out(
        mosquitto: Mosquitto, hq_with_history: ProfileStore, hq_key: tuple[Ed25519PrivateKey, Path],
        tmp_path: Path) -> None:
    token = issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60)
    responder = _responder(mosquitto.url, hq_with_history, hq_key)
    outcomes: list[TapOutcome] = []
    runtime = _runtime(tmp_path, mosquitto.url, hq_key, outcomes)
    try:
        assert runtime.fetch_profile(SHOPPER, token) is not None
        runtime.kiosk.session.shopper = SHOPPER  # signed in right now
        hq_with_history.erase(SHOPPER)
        tell_fleet_to_forget(mosquitto.url, SHOPPER)
        # The screen is told last, after the cache and the visit are wiped: wait for it.
        assert eventually(lambda: [o.kind for o in outcomes] == [OutcomeKind.SIGNED_OUT], 10)
        assert runtime.profiles.get(SHOPPER) is None
        assert runtime.kiosk.session.shopper is None
    finally:
        runtime.link.stop()
        responder.stop()


def test_request_response_also_works_on_the_embedded_mqtt_3_broker(hq_with_history: ProfileStore,
                                                                   hq_key: tuple[Ed25519PrivateKey, Path],
                                                                   tmp_path: Path) -> None:
    broker = EmbeddedBroker(port=free_port())
    broker.start()
    responder = _responder(broker.url, hq_with_history, hq_key)
    runtime = _runtime(tmp_path, broker.url, hq_key)
    try:
        profile = runtime.fetch_profile(SHOPPER, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60))
        assert profile is not None and profile.response.wishlist == ("BOOT-CHELSEA-TAN",)
    finally:
        runtime.link.stop()
        responder.stop()
        broker.stop()


def test_commands_name_shoppers_only_by_hash() -> None:
    assert SHOPPER not in shopper_hash(SHOPPER) and len(shopper_hash(SHOPPER)) == 64


def test_a_profile_pull_outliving_the_kiosk_finds_an_empty_cache_not_a_closed_database(tmp_path: Path) -> None:
    from backend_sync import ProfileCache
    from kiosk_protocol import ProfileResponse

    cache = ProfileCache(tmp_path / "profiles.sqlite")
    profile = ProfileResponse(request_id=uuid.uuid4(), shopper=SHOPPER, recent_skus=("BAG-TOTE-BRN",))
    cache.put(profile)
    assert cache.get(SHOPPER) == profile
    cache.close()  # the window closed while a pull still waited on HQ
    cache.put(profile)
    assert cache.get(SHOPPER) is None
    assert cache.forget(shopper_hash(SHOPPER)) is False
    cache.close()
