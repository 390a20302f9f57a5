"""HQ takes every event version the fleet may still run: a kiosk not upgraded yet (version 2)
and an upgraded one (version 3, with what analytics needs) both land through the real ingest
path (their outboxes and links, a real Mosquitto, the ingest worker, SQLite and PostgreSQL),
what the new kinds say survives in HQ's events and its click-log export, and a version 2
event of a kind only version 3 has is refused and counted."""

from __future__ import annotations

import csv
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import KioskLink, Outbox
from hq import IngestWorker, ProfileStore
from hq._event_export import export_events
from hq._schema import events
from kiosk_app import Kiosk, SessionMachine
from kiosk_app.demo import demo_catalog_path
from kiosk_protocol import MAX_SHOWN, EventKind, encode_event, events_topic, load_catalog, new_event
from kiosk_protocol._cards import card_verifier
from nfc_reader import TagKind, TagRead
from testkit.broker_client import Client
from testkit.clock import ManualClock
from testkit.mosquitto import Mosquitto
from testkit.postgres import ThrowawayDatabase
from testkit.waiting import eventually

STORE = "madrid-centro"
OLDER, NEWER, HOSTILE = "kiosk-02", "kiosk-03", "kiosk-04"
CATALOG = load_catalog(demo_catalog_path())
BOOT, TOTE = CATALOG.products[0].sku, CATALOG.products[9].sku
SHOWN = tuple(p.sku for p in CATALOG.products[1:5])
# The longest list a screen may show, of the longest SKUs there may be: it fits HQ's column.
WIDEST = tuple(f"SKU-{n:02d}-".ljust(32, "X") for n in range(MAX_SHOWN))


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hq.sqlite'}"
        return
    with ThrowawayDatabase() as database:
        yield database.url


@pytest.fixture
def worker(mosquitto: Mosquitto, database_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> Iterator[IngestWorker]:
    running = IngestWorker(mosquitto.url, ProfileStore(database_url), verify_card=card_verifier(hq_key[0].public_key()))
    running.start()
    assert running.subscribed.wait(10)
    yield running
    running.stop()
    running.store.close()


def _stored(store: ProfileStore, kiosk: str) -> list[tuple[str, str | None, str | None]]:
    with store.engine.connect() as db:
        return [tuple(row) for row in db.execute(
            sa.select(events.c.kind, events.c.sku, events.c.detail).where(events.c.kiosk == kiosk)
            .order_by(events.c.seq))]


def test_an_older_and_a_newer_kiosk_both_land_and_a_version_2_event_of_a_version_3_kind_is_refused(
        mosquitto: Mosquitto, worker: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    older_outbox, newer_outbox = Outbox(tmp_path / "older.sqlite"), Outbox(tmp_path / "newer.sqlite")
    links = [KioskLink(mosquitto.url, STORE, kiosk, outbox) for kiosk, outbox in
             ((OLDER, older_outbox), (NEWER, newer_outbox))]
    hostile = Client(mosquitto.url, f"{STORE}.{HOSTILE}")
    clock = ManualClock(100.0)
    newer = Kiosk(CATALOG, newer_outbox, STORE, NEWER, verify_card=card_verifier(hq_key[0].public_key()),
                  machine=SessionMachine(clock=clock))
    try:
        for link in links:
            link.start()
        # The kiosk not upgraded yet: version 2 views and touches, as it has always sent them.
        visit = uuid.uuid4()
        for kind, details in ((EventKind.PRODUCT_VIEW, {"sku": BOOT}),
                              (EventKind.SUGGESTION_TAP, {"sku": TOTE, "beside": BOOT})):
            older_outbox.enqueue(events_topic(STORE, OLDER), lambda seq, kind=kind, details=details: encode_event(
                new_event(kind=kind, store=STORE, kiosk=OLDER, seq=seq, session=visit, shopper=None, v=2, **details)),
                droppable=True)
        # The upgraded kiosk: a visit with its suggestions on screen, a hand-off, and its end.
        newer.handle(TagRead(TagKind.PRODUCT, "01", sku=BOOT))
        assert newer.suggestions_shown(BOOT, SHOWN) is not None
        assert newer.handoff_shown() is not None
        clock.now += 95.4
        newer.end_session()
        # A kiosk that says version 2 of a kind version 2 never had, then the widest list there may be.
        assert hostile.connected.wait(10)
        end = new_event(kind=EventKind.VISIT_END, store=STORE, kiosk=HOSTILE, seq=1, session=uuid.uuid4(),
                        shopper=None, dwell_s=30)
        widest = new_event(kind=EventKind.SUGGESTION_SHOWN, store=STORE, kiosk=HOSTILE, seq=2, session=uuid.uuid4(),
                           shopper=None, shown=WIDEST, beside=BOOT)
        for payload in (json.dumps({**end.model_dump(mode="json"), "v": 2}).encode(), encode_event(widest)):
            hostile.client.publish(events_topic(STORE, HOSTILE), payload, qos=1).wait_for_publish(5)

        store = worker.store
        assert eventually(lambda: len(older_outbox) == len(newer_outbox) == 0 and store.has_event(str(widest.event_id)))
        assert eventually(lambda: worker.stats.rejected == 1)
    finally:
        hostile.close()
        for link in links:
            link.stop()

    assert not store.has_event(str(end.event_id))
    assert _stored(store, OLDER) == [("product_view", BOOT, None), ("suggestion_tap", TOTE, BOOT)]
    assert _stored(store, NEWER) == [("visit_start", None, None), ("product_view", BOOT, None),
                                     ("suggestion_shown", BOOT, " ".join(SHOWN)), ("handoff", None, None),
                                     ("visit_end", None, "95")]
    assert _stored(store, HOSTILE) == [("suggestion_shown", BOOT, " ".join(WIDEST))]
    assert worker.stats.stored == 2 + 5 + 1

    exported = export_events(store.engine, tmp_path / "events.tsv")
    assert (exported.views, exported.shown) == (2, len(SHOWN) + MAX_SHOWN)
    with (tmp_path / "events.tsv").open(newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.reader(handle, delimiter="\t") if row[5] == "shown"]
    with store.engine.connect() as db:
        newer_session = db.execute(sa.select(events.c.session).where(events.c.kiosk == NEWER).distinct()).scalar_one()
    assert [(r[1], r[3], r[4]) for r in rows if r[0] == newer_session] == [(sku, "kiosk", STORE) for sku in SHOWN]

