"""HQ's HTTP API on a real PostgreSQL: per-channel keys, one profile for every channel,
consent, HLC merge with kiosks' changes, export and erase reaching the fleet."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from fastapi.testclient import TestClient

from hq import ApiKeys, ProfileStore, create_app
from kiosk_protocol import CommandKind, ConsentStatus, EventKind, Hlc, KioskCommand, new_event, shopper_hash
from kiosk_protocol.contract import FLEET_COMMANDS, decode
from testkit.mosquitto import Mosquitto

KEYS = {"web": "web-key-0123456789abcdef", "app": "app-key-0123456789abcdef", "hq": "hq-key-0123456789abcdef0"}
WEB, APP = {"X-Api-Key": KEYS["web"]}, {"X-Api-Key": KEYS["app"]}
SHOPPER = "shopper-0042"
STORE, KIOSK = "madrid-centro", "kiosk-01"

# Every route that needs a key: (method, path, JSON body)
ROUTES = [
    ("GET", f"/v1/shoppers/{SHOPPER}", None),
    ("POST", f"/v1/shoppers/{SHOPPER}/views", {"sku": "BOOT-1"}),
    ("POST", f"/v1/sessions/{uuid.uuid4()}/views", {"sku": "BOOT-1"}),
    ("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-1", None),
    ("DELETE", f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-1", None),
    ("PUT", f"/v1/shoppers/{SHOPPER}/preferences/size", {"value": "42"}),
    ("PUT", f"/v1/shoppers/{SHOPPER}/consent", {"status": "granted"}),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "Ana"}),
    ("GET", f"/v1/shoppers/{SHOPPER}/export", None),
    ("DELETE", f"/v1/shoppers/{SHOPPER}", None),
]

# Bad requests and where the answer says the problem is.
INVALID = [
    ("POST", f"/v1/shoppers/{SHOPPER}/views", {"sku": "boot lowercase"}, "body.sku"),
    ("POST", f"/v1/shoppers/{SHOPPER}/views", {"sku": "BOOT-1", "colour": "red"}, "body.colour"),
    ("POST", f"/v1/shoppers/{SHOPPER}/views", {}, "body.sku"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/consent", {"status": "maybe"}, "body.status"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/wishlist/not-a-sku", None, "path.sku"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/preferences/Size", {"value": "42"}, "path.key"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/preferences/size", {"value": "a\u0000b"}, "body.value"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "Ana\u202e"}, "body.display_name"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "A\nna"}, "body.display_name"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": " Ana"}, "body.display_name"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": "x" * 65}, "body.display_name"),
    ("PUT", f"/v1/shoppers/{SHOPPER}/display-name", {"display_name": ""}, "body.display_name"),
    ("GET", f"/v1/shoppers/{SHOPPER}?history_limit=-1", None, "query.history_limit"),
    ("GET", "/v1/shoppers/tab%09inside", None, "path.shopper"),
]


@pytest.fixture
def store(postgres_url: str) -> Iterator[ProfileStore]:
    profile_store = ProfileStore(postgres_url)
    yield profile_store
    profile_store.close()


@pytest.fixture
def api(store: ProfileStore) -> TestClient:
    return TestClient(create_app(store, ApiKeys(KEYS)))


@pytest.fixture
def quick_store(sqlite_url: str) -> Iterator[ProfileStore]:
    """For requests refused before they reach the database."""
    profile_store = ProfileStore(sqlite_url)
    yield profile_store
    profile_store.close()


def _grant(api: TestClient, headers: dict[str, str] = WEB, session: uuid.UUID | None = None) -> None:
    body = {"status": "granted", **({"session": str(session)} if session else {})}
    assert api.put(f"/v1/shoppers/{SHOPPER}/consent", headers=headers, json=body).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
@pytest.mark.parametrize("key", [None, "not-a-key", KEYS["web"][:-1]])
def test_every_route_needs_a_channel_key(quick_store: ProfileStore, method: str, path: str, body: object,
                                         key: str | None) -> None:
    api = TestClient(create_app(quick_store, ApiKeys(KEYS)))
    response = api.request(method, path, json=body, headers={"X-Api-Key": key} if key else {})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert quick_store.event_count() == 0


@pytest.mark.parametrize(("method", "path", "body", "where"), INVALID)
def test_bad_requests_get_a_clear_422(quick_store: ProfileStore, method: str, path: str, body: object,
                                      where: str) -> None:
    api = TestClient(create_app(quick_store, ApiKeys(KEYS)))
    response = api.request(method, path, json=body, headers=WEB)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert where in [problem["where"] for problem in response.json()["detail"]]
    assert quick_store.event_count() == 0


def test_one_profile_for_every_channel(api: TestClient, store: ProfileStore) -> None:
    kiosk_session = uuid.uuid4()
    store.record_many([  # the shopper at a kiosk: consent, a view, a wishlist item
        new_event(kind=EventKind.CONSENT, store=STORE, kiosk=KIOSK, seq=1, session=kiosk_session, shopper=SHOPPER,
                  consent=ConsentStatus.GRANTED, hlc=str(Hlc(1_000, 0, KIOSK))),
        new_event(kind=EventKind.PRODUCT_VIEW, store=STORE, kiosk=KIOSK, seq=2, session=kiosk_session,
                  shopper=SHOPPER, sku="BOOT-CHELSEA-BLK"),
        new_event(kind=EventKind.WISHLIST_ADD, store=STORE, kiosk=KIOSK, seq=3, session=kiosk_session,
                  shopper=SHOPPER, sku="BOOT-CHELSEA-BLK", hlc=str(Hlc(1_001, 0, KIOSK))),
    ])
    assert api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json={"sku": "COAT-WOOL-GRY"}).status_code == 201
    assert api.post(f"/v1/shoppers/{SHOPPER}/views", headers=APP, json={"sku": "BAG-TOTE-BRN"}).status_code == 201
    assert api.put(f"/v1/shoppers/{SHOPPER}/wishlist/BAG-TOTE-BRN", headers=APP).json()["wishlist"] == [
        "BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"]
    assert api.put(f"/v1/shoppers/{SHOPPER}/preferences/shoe_size", headers=WEB,
                   json={"value": "42"}).json()["preferences"] == {"shoe_size": "42"}

    profile = api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()
    assert profile["consent"] == "granted"
    assert profile["wishlist"] == ["BOOT-CHELSEA-BLK", "BAG-TOTE-BRN"]
    assert profile["preferences"] == {"shoe_size": "42"}
    views = [(e["channel"], e["sku"]) for e in profile["history"] if e["kind"] == "product_view"]
    assert views == [("kiosk:kiosk-01", "BOOT-CHELSEA-BLK"), ("web", "COAT-WOOL-GRY"), ("app", "BAG-TOTE-BRN")]
    assert {(e["store"], e["kiosk"]) for e in profile["history"] if e["channel"] in ("web", "app")} == {
        ("online", "web"), ("online", "app")}
    assert len(api.get(f"/v1/shoppers/{SHOPPER}?history_limit=2", headers=WEB).json()["history"]) == 2


def test_views_join_a_profile_only_while_consent_is_granted(api: TestClient, store: ProfileStore) -> None:
    view = {"sku": "BOOT-1"}
    refused = api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json=view)
    assert refused.status_code == 409 and refused.json()["error"] == "consent_required"
    _grant(api)
    assert api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json=view).status_code == 201
    revoked = api.put(f"/v1/shoppers/{SHOPPER}/consent", headers=APP, json={"status": "revoked"})
    assert revoked.json()["consent"] == "revoked"
    assert api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json=view).status_code == 409
    history = api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()["history"]
    assert [e["kind"] for e in history] == ["consent", "product_view", "consent"]


def test_a_retried_post_is_stored_once(api: TestClient, store: ProfileStore) -> None:
    _grant(api)
    body = {"sku": "BOOT-1", "event_id": str(uuid.uuid4())}
    first = api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json=body)
    again = api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json=body)
    assert (first.status_code, first.json()["duplicate"]) == (201, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert store.event_count() == 2  # the consent and one view


def test_anonymous_web_views_join_the_profile_when_consent_is_granted_in_their_session(
        api: TestClient, store: ProfileStore) -> None:
    session = uuid.uuid4()
    for sku in ("BOOT-1", "BAG-2"):
        assert api.post(f"/v1/sessions/{session}/views", headers=WEB, json={"sku": sku}).status_code == 201
    assert api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).status_code == 404  # nobody's yet
    _grant(api, session=session)
    skus = [e["sku"] for e in api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()["history"] if e["sku"]]
    assert skus == ["BOOT-1", "BAG-2"]


def test_a_change_made_after_reading_wins_over_a_kiosk_whose_clock_runs_ahead(
        api: TestClient, store: ProfileStore) -> None:
    ahead = Hlc(Hlc.parse(api.put(f"/v1/shoppers/{SHOPPER}/consent", headers=WEB,
                                  json={"status": "granted"}).json()["hlc"]).wall_ms + 300_000, 0, KIOSK)
    store.record(new_event(kind=EventKind.WISHLIST_ADD, store=STORE, kiosk=KIOSK, seq=1, session=uuid.uuid4(),
                           shopper=SHOPPER, sku="BOOT-1", hlc=str(ahead)))  # the kiosk's clock is 5 minutes fast
    assert api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).json()["wishlist"] == ["BOOT-1"]
    removed = api.delete(f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-1", headers=WEB).json()
    assert removed["wishlist"] == []
    assert Hlc.parse(removed["hlc"]) > ahead


def test_export_holds_everything_with_each_change_s_channel(api: TestClient, store: ProfileStore) -> None:
    _grant(api, APP)
    api.put(f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-1", headers=WEB)
    exported = api.get(f"/v1/shoppers/{SHOPPER}/export", headers=WEB).json()
    assert [(c["status"], c["channel"]) for c in exported["consent_log"]] == [("granted", "app")]
    assert exported["wishlist"] == ["BOOT-1"]
    assert [e["kind"] for e in exported["history"]] == ["consent", "wishlist_add"]
    assert api.get("/v1/shoppers/nobody/export", headers=WEB).json()["error"] == "unknown_shopper"


def test_erase_empties_the_profile_tells_every_kiosk_and_keeps_it_erased(mosquitto: Mosquitto,
                                                                         store: ProfileStore) -> None:
    api = TestClient(create_app(store, ApiKeys(KEYS), broker_url=mosquitto.url))
    heard: list[KioskCommand] = []
    arrived, subscribed = threading.Event(), threading.Event()
    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="watcher")

    def on_message(client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        heard.append(decode(KioskCommand, bytes(message.payload)))
        arrived.set()

    watcher.on_subscribe = lambda *_: subscribed.set()
    watcher.on_message = on_message
    watcher.connect("127.0.0.1", mosquitto.port)
    watcher.subscribe(FLEET_COMMANDS, qos=1)
    watcher.loop_start()
    try:
        assert subscribed.wait(10)
        _grant(api)
        api.post(f"/v1/shoppers/{SHOPPER}/views", headers=WEB, json={"sku": "BOOT-1"})
        erased = api.delete(f"/v1/shoppers/{SHOPPER}", headers=APP)
        assert erased.json() == {"shopper": SHOPPER, "erased_events": 2, "fleet_told": True}
        assert arrived.wait(10)
        assert heard == [KioskCommand(command=CommandKind.FORGET_SHOPPER, shopper_hash=shopper_hash(SHOPPER))]
    finally:
        watcher.loop_stop()
        watcher.disconnect()
    assert api.get(f"/v1/shoppers/{SHOPPER}", headers=WEB).status_code == 404
    gone = api.put(f"/v1/shoppers/{SHOPPER}/wishlist/BOOT-1", headers=WEB)
    assert (gone.status_code, gone.json()["error"]) == (410, "erased")
    assert store.event_count() == 0


def test_the_openapi_document_describes_the_api_and_its_key() -> None:
    schema = TestClient(create_app(ProfileStore("sqlite://"), ApiKeys(KEYS))).get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["APIKeyHeader"] == {
        "type": "apiKey", "in": "header", "name": "X-Api-Key", "description": "Your channel's API key."}
    assert set(schema["paths"]) == {
        "/v1/health", "/v1/shoppers/{shopper}", "/v1/shoppers/{shopper}/views", "/v1/sessions/{session}/views",
        "/v1/shoppers/{shopper}/wishlist/{sku}", "/v1/shoppers/{shopper}/preferences/{key}",
        "/v1/shoppers/{shopper}/consent", "/v1/shoppers/{shopper}/display-name", "/v1/shoppers/{shopper}/export",
        "/v1/changes", "/v1/changes/stream", "/v1/shoppers/{shopper}/coupons",
        "/v1/shoppers/{shopper}/coupons/{offer}", "/v1/shoppers/{shopper}/coupons/{offer}/redeem",
        "/v1/shoppers/{shopper}/orders", "/v1/orders",
        "/v1/stores/{store}/stock", "/v1/stores/{store}/reservations", "/v1/stores/{store}/reservations/{reservation}",
        "/v1/stores/{store}/reservations/{reservation}/state",
        "/v1/stores/{store}/reservations/{reservation}/collected",
        *(f"/fleet/api/analytics/{name}" for name in ("top-products", "hourly", "funnel", "lift", "uptime"))}
    place = schema["paths"]["/v1/shoppers/{shopper}/orders"]["post"]
    assert set(place["responses"]) >= {"200", "201", "401", "403", "409", "410", "413", "422", "503"}
    assert set(schema["paths"]["/v1/orders"]["post"]["responses"]) >= {"200", "201", "403", "409", "422"}
    redeem = schema["paths"]["/v1/shoppers/{shopper}/coupons/{offer}/redeem"]["post"]
    assert any(p["name"] == "idempotency-key" and p["in"] == "header" and p["required"]
               for p in redeem["parameters"])
    assert set(redeem["responses"]) >= {"200", "401", "404", "409", "410", "422"}
    consent = schema["paths"]["/v1/shoppers/{shopper}/consent"]["put"]
    assert consent["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ConsentIn")
    assert set(consent["responses"]) >= {"200", "401", "422", "503"}


@pytest.mark.parametrize(("channels", "problem"), [
    ({"web": "short"}, "shorter than"),
    ({"Web Shop": "web-key-0123456789abcdef"}, "not a channel name"),
    ({"web": "same-key-0123456789abc", "app": "same-key-0123456789abc"}, "share one API key"),
])
def test_unfit_key_configurations_are_refused(channels: dict[str, str], problem: str) -> None:
    from hq import CredentialsError

    with pytest.raises(CredentialsError, match=problem):
        ApiKeys(channels)
