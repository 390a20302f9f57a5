"""Kiosk -> real Mosquitto -> HQ ingest: a shopper who browses, taps their card and says
yes finds the products they looked at before the card in their profile; after a no,
nothing of the visit joins it."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import KioskLink, Outbox
from hq import IngestWorker
from kiosk_app import Kiosk
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import ConsentStatus, Role, card_verifier, issue_token, load_catalog
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually

STORE, KIOSK = "madrid-centro", "kiosk-01"
SHOPPER, BOOT, TOTE = "shopper-0042", "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"


def browse_then_sign_in(tmp_path: Path, hq_key: tuple[Ed25519PrivateKey, Path], broker: str,
                        granted: bool) -> Kiosk:
    """A shopper taps a boot, then their card, answers, then taps a tote; returns once HQ has receipted it all."""
    outbox = Outbox(tmp_path / "outbox.sqlite")
    kiosk = Kiosk(load_catalog(demo_catalog_path()), outbox, STORE, KIOSK,
                  verify_card=card_verifier(hq_key[0].public_key()))
    kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=BOOT))
    kiosk.handle(TagRead(TagKind.SHOPPER_CARD, "02", token=issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)))
    kiosk.consent(granted)
    kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=TOTE))
    link = KioskLink(broker, STORE, KIOSK, outbox)
    link.start()
    try:
        assert eventually(lambda: len(outbox) == 0)  # every event receipted: stored at HQ
    finally:
        link.stop()
    return kiosk


def test_a_yes_brings_the_views_from_before_the_card_into_the_profile(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    kiosk = browse_then_sign_in(tmp_path, hq_key, mosquitto.url, granted=True)
    assert (hq_ingest.stats.stored, hq_ingest.stats.refused_no_card_proof) == (4, 0)
    profile = hq_ingest.store.profile(SHOPPER)
    assert profile.consent is ConsentStatus.GRANTED
    assert [(e.kind, e.sku) for e in profile.history] == [  # the visit from its start
        ("visit_start", None), ("product_view", BOOT), ("consent", None), ("product_view", TOTE)]
    assert hq_ingest.store.history(f"session:{kiosk.session.id}") == []  # moved, not copied
    assert hq_ingest.store.export(SHOPPER)["linked_sessions"] == [str(kiosk.session.id)]


def test_after_a_no_nothing_of_the_visit_joins_the_profile(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    kiosk = browse_then_sign_in(tmp_path, hq_key, mosquitto.url, granted=False)
    profile = hq_ingest.store.profile(SHOPPER)
    assert profile.consent is ConsentStatus.DENIED  # the answer itself is the shopper's record
    assert [e.kind for e in profile.history] == ["consent"] and profile.views == []
    assert [e.sku for e in hq_ingest.store.history(f"session:{kiosk.session.id}")] == [None, BOOT, TOTE]  # anonymous
    assert hq_ingest.store.history(f"session:{kiosk.session.id}")[0].kind == "visit_start"
    assert hq_ingest.store.export(SHOPPER)["linked_sessions"] == []
