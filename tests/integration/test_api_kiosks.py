"""The API and the kiosks share one profile, live: a wishlist item added at a kiosk is
readable through the API, and what the web shop posts is at the kiosk
the next time the shopper signs in. Real Mosquitto, ingest worker, PostgreSQL, kiosk."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from hq import ApiKeys, IngestWorker, ProfileResponder, ProfileStore, create_app
from kiosk_app import KioskConfig, KioskRuntime
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import Role, issue_token
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto

KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef"}
WEB = {"X-Api-Key": KEYS["web"]}
SHOPPER = "shopper-0042"


@dataclass
class Hq:
    api: TestClient
    store: ProfileStore
    kiosk: KioskRuntime


@pytest.fixture
def hq(mosquitto: Mosquitto, postgres_url: str, hq_key: tuple[Ed25519PrivateKey, Path],
       tmp_path: Path) -> Iterator[Hq]:
    store = ProfileStore(postgres_url)
    verify_card = card_verifier(hq_key[0].public_key())
    worker = IngestWorker(mosquitto.url, store, share_group="hq", verify_card=verify_card)
    responder = ProfileResponder(mosquitto.url, store, verify_card)
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(),
                         reader="udp:127.0.0.1:9", broker=mosquitto.url, data_dir=tmp_path / "kiosk",
                         hq_public_key=hq_key[1])
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
    for part in (worker, responder, runtime.link):
        part.start()
    deadline = time.monotonic() + 10
    while not (worker.subscribed.is_set() and responder.subscribed.is_set() and runtime.link.connected):
        assert time.monotonic() < deadline, "HQ or the kiosk did not connect"
        time.sleep(0.02)
    yield Hq(TestClient(create_app(store, ApiKeys(KEYS))), store, runtime)
    runtime.link.stop()
    responder.stop()
    worker.stop()
    store.close()


def test_a_wishlist_item_added_at_a_kiosk_is_readable_through_the_api(hq: Hq,
                                                                     hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    # How fast is measured by benchmarks/fleet_load.py (tap-to-profile p50/p99), not here.
    sku = next(iter(hq.kiosk.kiosk.catalog.products)).sku
    hq.kiosk.kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60)))
    hq.kiosk.kiosk.consent(True)
    deadline = time.monotonic() + 15
    assert hq.kiosk.kiosk.set_wishlist(sku, True)
    wishlist: list[str] = []
    while time.monotonic() < deadline and sku not in wishlist:
        response = hq.api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB)
        wishlist = response.json()["wishlist"] if response.status_code == 200 else []
        time.sleep(0.01)
    assert wishlist == [sku]


def test_what_the_web_shop_posts_is_at_the_kiosk_on_the_next_sign_in(hq: Hq,
                                                                    hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    skus = [product.sku for product in list(hq.kiosk.kiosk.catalog.products)[:3]]
    assert hq.api.put(f"/v1/shoppers/{SHOPPER}/consent", headers=WEB, json={"status": "granted"}).status_code == 200
    for sku in skus[:2]:
        assert hq.api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json={"sku": sku}).status_code == 201
    assert hq.api.put(f"/v1/shoppers/{SHOPPER}/wishlist/{skus[2]}", headers=WEB).status_code == 200

    profile = hq.kiosk.fetch_profile(SHOPPER, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60))
    assert profile is not None and not profile.from_cache
    assert profile.response.recent_skus == (skus[1], skus[0])  # newest first
    assert profile.response.wishlist == (skus[2],)
    assert profile.response.consent is not None and profile.response.consent.value == "granted"
