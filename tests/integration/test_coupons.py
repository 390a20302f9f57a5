"""Coupons with real parts: HQ's API over a real socket answers every save, list and
redemption as documented; on PostgreSQL, channels redeeming one coupon at the same
instant never get more redemptions than the offer allows; a coupon saved at a kiosk
(over a real Mosquitto into HQ's ingest) is readable through the API at once; a coupon
saved through the API reaches the kiosk where the shopper stands; the change feed,
the change stream, the webhooks, the profile, the export and the erase carry them."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import paho.mqtt.client as mqtt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ApiKeys, ApiServer, IngestWorker, ProfileStore, create_app
from hq._store import CardVisit
from kiosk_app.demo import free_port
from kiosk_protocol import (
    EventKind,
    Hlc,
    Offer,
    Role,
    encode_event,
    events_topic,
    issue_token,
    kiosk_topics,
    new_event,
    wall_clock_ms,
)
from testkit.event_stream import EventStream
from testkit.live_hq import WEB_KEY, Kiosk
from testkit.live_hq import Hq as PushingHq
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually
from testkit.webhook_steps import delivering, receiving

KEYS = {"web": "web-key-0123456789abcdef", "pos": "pos-key-0123456789abcdef"}
WEB, POS = {"X-Api-Key": KEYS["web"]}, {"X-Api-Key": KEYS["pos"]}
SHOPPER = "shopper-0042"
STORE, KIOSK = "madrid-centro", "kiosk-01"
COUPONS = f"/v1/shoppers/{SHOPPER}/coupons"
NOW = datetime.now(UTC)


def offer(offer_id: str, starts: timedelta = timedelta(days=-1), ends: timedelta = timedelta(days=1),
          **fields: object) -> Offer:
    return Offer.model_validate({"id": offer_id, "title": {"es": "Botas de invierno", "en": "Winter boots"},
                                 "terms": {"es": "Una vez", "en": "Once"}, "discount": {"kind": "percent", "value": 20},
                                 "skus": ["BOOT-CHELSEA-BLK"], "stores": [STORE], "starts": (NOW + starts).isoformat(),
                                 "ends": (NOW + ends).isoformat(), **fields})


OFFERS = [offer("WINTER-BOOTS"), offer("TWICE", per_shopper=2), offer("MEMBERS", audience="members"),
          offer("ENDED", starts=timedelta(days=-3), ends=timedelta(days=-2)),
          offer("LATER", starts=timedelta(days=2), ends=timedelta(days=3))]


class Hq:
    """HQ's API on a real socket, over one profile store holding ``OFFERS``."""

    def __init__(self, store: ProfileStore) -> None:
        self.store = store
        store.offers.merge(OFFERS)
        self.server = ApiServer(create_app(store, ApiKeys(KEYS)), port=free_port())
        self.server.start()
        self.web = httpx.Client(base_url=self.server.url, headers=WEB, timeout=30)
        self.pos = httpx.Client(base_url=self.server.url, headers=POS, timeout=30)

    def redeem(self, offer_id: str, key: str | None, client: httpx.Client | None = None) -> httpx.Response:
        headers = {} if key is None else {"Idempotency-Key": key}
        return (client or self.pos).post(f"{COUPONS}/{offer_id}/redeem", headers=headers)

    def card_checked(self) -> None:
        """HQ checks the shopper's card at a kiosk (their visit's events come in): now a member."""
        session = uuid.uuid4()
        self.store.record_many([new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=1,
                                          session=session, shopper=SHOPPER, sku="BOOT-CHELSEA-BLK")],
                               new_visits=[CardVisit(str(session), STORE, KIOSK, SHOPPER)])

    def close(self) -> None:
        self.web.close()
        self.pos.close()
        self.server.stop()


def _hq(url: str) -> Iterator[Hq]:
    store = ProfileStore(url)
    server = Hq(store)
    yield server
    server.close()
    store.close()


@pytest.fixture
def hq(sqlite_url: str) -> Iterator[Hq]:
    yield from _hq(sqlite_url)


@pytest.fixture
def pg_hq(postgres_url: str) -> Iterator[Hq]:
    yield from _hq(postgres_url)


def _answer(response: httpx.Response, status: int, error: str | None = None) -> Any:
    assert response.status_code == status, response.text
    body = response.json()
    if error is not None:
        assert body["error"] == error and body["detail"], body
    return body


def test_saving_a_coupon_answers_each_case_and_is_idempotent(hq: Hq) -> None:
    saved = _answer(hq.web.put(f"{COUPONS}/WINTER-BOOTS"), 201)
    assert (saved["offer"], saved["state"], saved["used"], saved["left"], saved["channel"]) == (
        "WINTER-BOOTS", "running", 0, 1, "web")
    assert saved["title"] == {"es": "Botas de invierno", "en": "Winter boots"}
    assert _answer(hq.pos.put(f"{COUPONS}/WINTER-BOOTS"), 200) == saved  # saved already: the same coupon
    _answer(hq.web.put(f"{COUPONS}/NO-SUCH-OFFER"), 404, "unknown_offer")
    for malformed in ("winter-boots", "WINTER%20BOOTS", "-WINTER", "W" * 49, "%00", "WINTER%3Bdrop"):
        _answer(hq.web.put(f"{COUPONS}/{malformed}"), 404, "unknown_offer")
    _answer(hq.web.put(f"{COUPONS}/ENDED"), 410, "offer_ended")
    _answer(hq.web.put(f"{COUPONS}/MEMBERS"), 403, "members_only")  # HQ never checked a card of theirs
    hq.card_checked()
    _answer(hq.web.put(f"{COUPONS}/MEMBERS"), 201)
    _answer(hq.web.put(f"{COUPONS}/LATER"), 201)  # saved ahead of its start
    listed = _answer(hq.web.get(COUPONS), 200)
    assert [(c["offer"], c["state"], c["left"]) for c in listed["coupons"]] == [
        ("WINTER-BOOTS", "running", 1), ("MEMBERS", "running", 1), ("LATER", "scheduled", 1)]
    _answer(hq.web.get("/v1/shoppers/nobody-here/coupons"), 404, "unknown_shopper")
    _answer(httpx.put(f"{hq.server.url}{COUPONS}/WINTER-BOOTS"), 401, "unauthorized")
    _answer(httpx.post(f"{hq.server.url}{COUPONS}/WINTER-BOOTS/redeem", headers={"Idempotency-Key": "k"}), 401)


def test_redeeming_answers_each_case(hq: Hq) -> None:
    _answer(hq.redeem("WINTER-BOOTS", "receipt-1"), 404, "no_coupon")
    _answer(hq.redeem("not an offer", "receipt-1"), 404, "unknown_offer")
    for offer_id in ("WINTER-BOOTS", "TWICE", "LATER"):
        _answer(hq.web.put(f"{COUPONS}/{offer_id}"), 201)
    missing = _answer(hq.redeem("WINTER-BOOTS", None), 422, "invalid_request")
    assert missing["detail"] == [{"where": "header.idempotency-key", "problem": "Field required"}]
    _answer(hq.redeem("WINTER-BOOTS", "has space"), 422, "invalid_request")
    _answer(hq.redeem("WINTER-BOOTS", "k" * 201), 422, "invalid_request")
    first = _answer(hq.redeem("WINTER-BOOTS", "receipt-1"), 200)
    assert (first["offer"], first["number"], first["left"], first["channel"]) == ("WINTER-BOOTS", 1, 0, "pos")
    uuid.UUID(first["redemption_id"])
    assert _answer(hq.redeem("WINTER-BOOTS", "receipt-1"), 200) == first  # a retry: the same answer
    _answer(hq.redeem("WINTER-BOOTS", "order-77", hq.web), 409, "already_redeemed")  # another channel, later
    _answer(hq.redeem("LATER", "receipt-2"), 409, "offer_not_started")
    numbers = [_answer(hq.redeem("TWICE", key), 200)["number"] for key in ("a", "b")]
    assert numbers == [1, 2]
    _answer(hq.redeem("TWICE", "c"), 409, "already_redeemed")
    hq.store.offers.merge([offer("TWICE", starts=timedelta(days=-3), ends=timedelta(seconds=-1), per_shopper=3)])
    _answer(hq.redeem("TWICE", "d"), 410, "offer_ended")  # ended since: one left, but no more
    listed = {c["offer"]: c for c in _answer(hq.web.get(COUPONS), 200)["coupons"]}
    assert {o: (c["state"], c["used"], c["left"]) for o, c in listed.items()} == {
        "WINTER-BOOTS": ("used", 1, 0), "TWICE": ("ended", 2, 0), "LATER": ("scheduled", 0, 1)}


def test_the_feed_profile_export_and_erase_carry_coupons(hq: Hq) -> None:
    _answer(hq.web.put(f"{COUPONS}/TWICE"), 201)
    hlc = hq.store.newest_hlc(SHOPPER)  # the save's stamp, from HQ's API clock
    made = _answer(hq.redeem("TWICE", "receipt-1"), 200)
    feed = _answer(hq.web.get("/v1/changes"), 200)["changes"]
    assert [{k: v for k, v in c.items() if k not in ("cursor", "at")} for c in feed] == [
        {"shopper": SHOPPER, "kind": "coupon_saved", "channel": "web", "store": "online", "kiosk": "web",
         "offer": "TWICE", "hlc": hlc},
        {"shopper": SHOPPER, "kind": "coupon_redeemed", "channel": "pos", "store": "online", "kiosk": "pos",
         "offer": "TWICE", "redemption": made["redemption_id"], "left": 1}]
    profile = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}"), 200)
    assert [(c["offer"], c["used"], c["left"]) for c in profile["coupons"]] == [("TWICE", 1, 1)]
    exported = _answer(hq.web.get(f"/v1/shoppers/{SHOPPER}/export"), 200)
    assert [c["offer"] for c in exported["coupons"]] == ["TWICE"]
    assert [(r["redemption_id"], r["number"], r["channel"]) for r in exported["redemptions"]] == [
        (made["redemption_id"], 1, "pos")]
    _answer(hq.web.delete(f"/v1/shoppers/{SHOPPER}"), 200)
    assert hq.store.coupons.of(f"shopper:{SHOPPER}") == []
    assert hq.store.coupons.redemptions_of(f"shopper:{SHOPPER}") == []
    _answer(hq.web.put(f"{COUPONS}/TWICE"), 410, "erased")
    _answer(hq.redeem("TWICE", "receipt-1"), 410, "erased")
    assert [c["kind"] for c in _answer(hq.web.get("/v1/changes"), 200)["changes"]] == ["erase"]


def _redeem_at_once(hq: Hq, offer_id: str, keys: list[str]) -> list[httpx.Response]:
    """Every key's redemption from its own thread and connection, let go at the same instant."""
    start = threading.Barrier(len(keys))
    answers: list[httpx.Response | None] = [None] * len(keys)

    def redeem(n: int) -> None:
        with httpx.Client(base_url=hq.server.url, headers=POS, timeout=60) as client:
            start.wait(30)
            answers[n] = hq.redeem(offer_id, keys[n], client)

    threads = [threading.Thread(target=redeem, args=(n,)) for n in range(len(keys))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert all(answer is not None for answer in answers)
    return [answer for answer in answers if answer is not None]


@pytest.mark.parametrize(("offer_id", "limit"), [("WINTER-BOOTS", 1), ("TWICE", 2)])
def test_twenty_channels_redeeming_at_once_on_postgresql_get_only_what_the_offer_allows(
        pg_hq: Hq, offer_id: str, limit: int) -> None:
    _answer(pg_hq.web.put(f"{COUPONS}/{offer_id}"), 201)
    answers = _redeem_at_once(pg_hq, offer_id, [f"till-{n}" for n in range(20)])
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * limit + [409] * (20 - limit), [a.text for a in answers if a.status_code >= 500]
    assert {a.json()["error"] for a in answers if a.status_code == 409} == {"already_redeemed"}
    won = [a.json() for a in answers if a.status_code == 200]
    assert sorted(r["number"] for r in won) == list(range(1, limit + 1))
    retried = _answer(pg_hq.redeem(offer_id, _key_of(answers, won[0])), 200)
    assert retried["redemption_id"] == won[0]["redemption_id"]
    assert len(pg_hq.store.coupons.redemptions_of(f"shopper:{SHOPPER}")) == limit
    redeemed = [c for c in pg_hq.store.changes.page(0, 100) if c.kind == "coupon_redeemed"]
    assert sorted(c.fields["redemption"] for c in redeemed) == sorted(r["redemption_id"] for r in won)


def _key_of(answers: list[httpx.Response], won: dict[str, Any]) -> str:
    [key] = [a.request.headers["Idempotency-Key"] for a in answers
             if a.status_code == 200 and a.json()["redemption_id"] == won["redemption_id"]]
    return key


def test_the_same_key_from_twenty_threads_on_postgresql_is_one_redemption(pg_hq: Hq) -> None:
    _answer(pg_hq.web.put(f"{COUPONS}/TWICE"), 201)
    answers = _redeem_at_once(pg_hq, "TWICE", ["receipt-1"] * 20)
    assert {a.status_code for a in answers} == {200}
    assert len({a.json()["redemption_id"] for a in answers}) == 1
    assert len(pg_hq.store.coupons.redemptions_of(f"shopper:{SHOPPER}")) == 1


def test_a_coupon_saved_at_a_kiosk_is_readable_through_the_api(
        mosquitto: Mosquitto, hq_ingest: IngestWorker, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    hq = Hq(hq_ingest.store)
    kiosk = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{STORE}.{KIOSK}")
    kiosk.connect("127.0.0.1", mosquitto.port)
    kiosk.loop_start()
    try:
        card = issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600)
        visit, stamp = uuid.uuid4(), str(Hlc(wall_clock_ms(), 0, KIOSK))
        saves = [new_event(kind=EventKind.COUPON_SAVE, store=STORE, kiosk=KIOSK, seq=seq, session=visit,
                           shopper=SHOPPER, card=card, offer=offer_id, hlc=stamp)
                 for seq, offer_id in ((1, "MEMBERS"), (2, "NO-SUCH-OFFER"))]
        for save in saves:
            kiosk.publish(events_topic(STORE, KIOSK), encode_event(save), qos=1).wait_for_publish(10)

        def listed() -> list[str]:
            answer = hq.web.get(COUPONS)
            return [c["offer"] for c in answer.json()["coupons"]] if answer.status_code == 200 else []

        assert eventually(lambda: listed() == ["MEMBERS"])  # a members' offer: the card is HQ's
        [coupon] = _answer(hq.web.get(COUPONS), 200)["coupons"]
        assert (coupon["channel"], coupon["state"], coupon["left"]) == (f"kiosk:{KIOSK}", "running", 1)
        assert eventually(lambda: hq.store.has_event(str(saves[1].event_id)), 10)
        assert hq.store.merge.refused_coupon_saves == {"unknown_offer": 1}  # kept as an event, no coupon
        details = [(e.kind, e.detail) for e in hq.store.history(f"shopper:{SHOPPER}")]
        assert details == [("coupon_save", "MEMBERS"), ("coupon_save", "NO-SUCH-OFFER")]
        assert [c["kind"] for c in _answer(hq.web.get("/v1/changes"), 200)["changes"]] == ["coupon_saved"]
        _answer(hq.redeem("MEMBERS", "receipt-1"), 200)
    finally:
        kiosk.loop_stop()
        kiosk.disconnect()
        hq.close()


def test_a_coupon_saved_on_the_web_reaches_the_kiosk_where_the_shopper_stands(
        tmp_path: Path, mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path],
        emulator: Any) -> None:
    hq = PushingHq(mosquitto.url, sqlite_url, hq_key[0])
    hq.store.offers.merge(OFFERS)
    hq.call("PUT", f"{COUPONS}/TWICE")  # before the visit: in the profile the kiosk pulls
    assert eventually(hq.dealt_with_everything, 10)
    kiosk = Kiosk(tmp_path, mosquitto.url, hq_key[1], emulator)
    try:
        kiosk.sign_in(hq, issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 600))
        assert kiosk.visit.coupons == {"TWICE"}
        hq.call("PUT", f"{COUPONS}/WINTER-BOOTS")
        assert eventually(lambda: kiosk.visit.coupons == {"TWICE", "WINTER-BOOTS"}, 10)
        for key in ("receipt-1", "receipt-2"):
            answer = httpx.post(f"{hq.api.url}{COUPONS}/TWICE/redeem",
                                headers={"X-Api-Key": WEB_KEY, "Idempotency-Key": key})
            assert answer.status_code == 200, answer.text
        assert eventually(lambda: kiosk.visit.coupons == {"WINTER-BOOTS"}, 10)  # used up: gone from the visit
        assert [c.kind.value for c in kiosk.changes] == ["coupon_saved", "coupon_redeemed", "coupon_redeemed"]
    finally:
        kiosk.stop()
        hq.stop()



def test_coupon_changes_reach_the_change_stream_and_the_webhooks(hq: Hq) -> None:
    with receiving(hq.store, "web") as web, delivering(hq.store):
        stream = EventStream(hq.server.url, WEB)
        try:
            _answer(hq.pos.put(f"{COUPONS}/TWICE"), 201)  # the till's channel saves and redeems
            made = _answer(hq.redeem("TWICE", "receipt-1"), 200)
            streamed = [stream.next_change(), stream.next_change()]
        finally:
            stream.close()
        assert [(c["kind"], c["offer"], c["channel"]) for c in streamed] == [
            ("coupon_saved", "TWICE", "pos"), ("coupon_redeemed", "TWICE", "pos")]
        assert (streamed[1]["redemption"], streamed[1]["left"]) == (made["redemption_id"], 1)
        assert web.wait_for(lambda: len(web.delivered()) == 2)
        assert sorted(web.delivered(), key=lambda c: c["cursor"]) == streamed  # each as the feed lists it


def test_a_kiosk_from_before_coupons_gets_version_2_s_answer_and_no_coupon_pushes(
        mosquitto: Mosquitto, sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path]) -> None:
    hq = PushingHq(mosquitto.url, sqlite_url, hq_key[0])
    hq.store.offers.merge(OFFERS)
    hq.call("PUT", f"{COUPONS}/TWICE")
    topics = kiosk_topics(STORE, "kiosk-09")
    subscribed, received = threading.Event(), list[tuple[str, dict[str, Any]]]()
    old_kiosk = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"{STORE}.kiosk-09")
    old_kiosk.on_subscribe = lambda *_args: subscribed.set()
    old_kiosk.on_message = lambda _c, _u, message: received.append((message.topic, json.loads(message.payload)))
    old_kiosk.connect("127.0.0.1", mosquitto.port)
    old_kiosk.subscribe([(topics.profile_response, 1), (topics.profile_changes, 1)])
    old_kiosk.loop_start()
    try:
        assert subscribed.wait(10) and eventually(hq.dealt_with_everything, 10)
        request = {"v": 2, "request_id": str(uuid.uuid4()), "shopper": SHOPPER, "session": str(uuid.uuid4()),
                   "token": issue_token(hq_key[0], SHOPPER, Role.SHOPPER, 60)}
        old_kiosk.publish(topics.profile_request, json.dumps(request), qos=1)
        assert eventually(lambda: len(received) == 1, 10)
        [(_, answer)] = received
        assert answer["v"] == 2 and "coupons" not in answer and answer["error"] is None
        hq.call("PUT", f"{COUPONS}/WINTER-BOOTS")  # not for this kiosk: it would refuse the message
        hq.call("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-CHELSEA-BLK")  # this it reads
        assert eventually(lambda: len(received) == 2, 10)
        assert [(body["v"], body["kind"]) for _, body in received[1:]] == [(1, "wishlist_add")]
        assert hq.pusher.stats.too_new == 1
    finally:
        old_kiosk.loop_stop()
        old_kiosk.disconnect()
        hq.stop()
