"""The staff page's sign-in and API in HQ's real app on SQLite: store keys and staff badges
open one store's session; keys and badges of another store, shoppers' cards, forged and
expired badges are refused and counted; a session of one store is refused in another
(403 ``other_store``); repeated failures are rate-limited; moves HQ refuses are answered
with their code; signing out revokes the cookie; two assistants moving the same requests at
once on PostgreSQL never lose a unit."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from hq import ApiKeys, ApiServer, CatalogFile, Grant, KeyRole, ProfileStore, StaffPage, StaffSessions, create_app
from hq._staff_sessions import STAFF_COOKIE
from kiosk_app.demo import demo_catalog, demo_catalog_path, free_port
from kiosk_protocol import Role, issue_token, load_catalog

KEYS = {"web": "web-key-0123456789abcdef", "madrid-staff": "madrid-key-0123456789abcdef",
        "bcn-staff": "bcn-key-0123456789abcdef"}
GRANTS = {"madrid-staff": Grant(KeyRole.STORE, "madrid-centro"),
          "bcn-staff": Grant(KeyRole.STORE, "barcelona-diagonal")}
STORE, OTHER = "madrid-centro", "barcelona-diagonal"
BOOT = "BOOT-CHELSEA-BLK"
REQUESTS = f"/staff/api/{STORE}/requests"


@dataclass
class Site:
    store: ProfileStore
    staff: StaffPage
    app: object
    key: Ed25519PrivateKey

    def browser(self) -> TestClient:
        """A browser of its own: its own cookies."""
        return TestClient(self.app, base_url="https://testserver")  # type: ignore[arg-type]

    def signed_in(self, credential: str, store: str | None = None) -> TestClient:
        browser = self.browser()
        answer = browser.post("/staff/session", json={"credential": credential, **({"store": store} if store else {})})
        assert answer.status_code == 204, answer.text
        return browser

    def badge(self, store: str | None, valid_for_s: float = 3600, role: Role = Role.STAFF) -> str:
        return issue_token(self.key, "staff-0007", role, valid_for_s, store=store)

    def hold(self) -> str:
        with TestClient(self.app) as api:  # type: ignore[arg-type]
            answer = api.post(f"/v1/stores/{STORE}/reservations", headers={"X-Api-Key": KEYS["web"]},
                              json={"sku": BOOT, "size": "40", "kind": "fitting_room"})
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])


@pytest.fixture
def site(sqlite_url: str, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> Iterator[Site]:
    store = ProfileStore(sqlite_url)
    catalog = CatalogFile(demo_catalog(tmp_path, "https://testserver"))
    store.stock.load_catalog(load_catalog(catalog.path))
    keys = ApiKeys(KEYS, grants=GRANTS)
    staff = StaffPage(store, StaffSessions(keys, hq_key[0].public_key()), catalog)
    app = create_app(store, keys, staff=staff, failure_rate="6/minute")
    yield Site(store, staff, app, hq_key[0])
    store.close()


def _refused(answer: object, status: int, error: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert body["error"] == error and body["detail"], body


def test_a_store_key_opens_its_store_only(site: Site) -> None:
    madrid = site.signed_in(KEYS["madrid-staff"])
    assert madrid.get("/staff/api/session").json() == {"store": STORE, "store_name": "Madrid Centro",
                                                        "by": "madrid-staff"}
    cookie = madrid.cookies.jar
    (only,) = list(cookie)
    assert only.name == STAFF_COOKIE and only.path == "/staff" and only.secure
    assert only.has_nonstandard_attr("HttpOnly")
    made = site.hold()
    listed = madrid.get(REQUESTS).json()
    assert [r["id"] for r in listed["requests"]] == [made]
    assert listed["requests"][0]["product"] == "Botín Chelsea negro" and listed["requests"][0]["kiosk"] is None

    barcelona = site.signed_in(KEYS["bcn-staff"])
    _refused(barcelona.get(REQUESTS), 403, "other_store")
    _refused(barcelona.post(f"{REQUESTS}/{made}/take"), 403, "other_store")
    _refused(barcelona.post(f"{REQUESTS}/{made}/cancel"), 403, "other_store")
    _refused(barcelona.get(f"/staff/api/{STORE}/stream"), 403, "other_store")
    assert site.staff.stats.other_store == 4
    assert site.store.reservations.get(STORE, made).state.value == "held"  # type: ignore[union-attr]
    _refused(site.browser().post("/staff/session", json={"credential": KEYS["bcn-staff"], "store": STORE}),
             403, "other_store")


@pytest.mark.parametrize(("credential", "store", "status", "error"), [
    ("web-key-0123456789abcdef", None, 401, "unauthorized"),  # a sales channel's key
    ("no-such-key-0123456789abcdef", None, 401, "unauthorized"),
    ("badge:shopper", None, 401, "unauthorized"),  # a shopper's card where a badge goes
    ("badge:expired", None, 401, "unauthorized"),
    ("badge:forged", None, 401, "unauthorized"),
    ("badge:every-store", None, 422, "store_required"),
    ("badge:barcelona", STORE, 403, "other_store"),
    ("madrid-key-0123456789abcdef", "Madrid Centro", 422, "invalid_request"),
    ("x" * 2049, None, 422, "invalid_request"),
])
def test_sign_ins_refused_and_counted(site: Site, credential: str, store: str | None, status: int,
                                      error: str) -> None:
    badges = {"badge:shopper": site.badge(None, role=Role.SHOPPER), "badge:expired": site.badge(STORE, -10),
              "badge:forged": site.badge(STORE)[:-4] + "AAAA", "badge:every-store": site.badge(None),
              "badge:barcelona": site.badge(OTHER)}
    browser = site.browser()
    _refused(browser.post("/staff/session", json={"credential": badges.get(credential, credential),
                                                  **({"store": store} if store else {})}), status, error)
    assert browser.cookies.get(STAFF_COOKIE) is None
    assert site.staff.stats.sign_ins_refused == (0 if error == "invalid_request" else 1)
    _refused(browser.get(REQUESTS), 401, "unauthorized")


def test_badges_open_their_store_or_the_one_named(site: Site) -> None:
    own = site.signed_in(site.badge(STORE))
    assert own.get("/staff/api/session").json()["by"] == "badge-staff-0007"
    manager = site.signed_in(site.badge(None), store=OTHER)
    assert manager.get("/staff/api/session").json()["store"] == OTHER
    _refused(manager.get(REQUESTS), 403, "other_store")
    assert manager.get(f"/staff/api/{OTHER}/requests").status_code == 200


def test_failed_sign_ins_past_the_rate_are_refused_whatever_they_send(site: Site) -> None:
    browser = site.browser()
    for _ in range(6):
        _refused(browser.post("/staff/session", json={"credential": "guess-0123456789abcdefghij"}), 401,
                 "unauthorized")
    answer = browser.post("/staff/session", json={"credential": KEYS["madrid-staff"]})  # the right key, too late
    _refused(answer, 429, "too_many_failures")
    assert int(answer.headers["Retry-After"]) >= 1
    assert site.staff.stats.sign_ins_refused == 6


def test_moves_hq_refuses_are_answered_with_their_code(site: Site) -> None:
    madrid = site.signed_in(KEYS["madrid-staff"])
    made = site.hold()
    _refused(madrid.post(f"{REQUESTS}/not-an-id/take"), 404, "unknown_reservation")
    _refused(madrid.post(f"{REQUESTS}/{'0' * 32}/take"), 404, "unknown_reservation")
    _refused(madrid.post(f"{REQUESTS}/{made}/ready", json={"note": "x" * 101}), 422, "invalid_request")
    _refused(madrid.post(f"{REQUESTS}/{made}/ready", json={"note": "room\n2"}), 422, "invalid_request")
    assert madrid.post(f"{REQUESTS}/{made}/ready", json={"note": "Probador 2"}).json()["note"] == "Probador 2"
    _refused(madrid.post(f"{REQUESTS}/{made}/take"), 409, "invalid_transition")  # ready is past taken
    assert madrid.post(f"{REQUESTS}/{made}/cancel").json()["state"] == "cancelled"
    _refused(madrid.post(f"{REQUESTS}/{made}/ready"), 409, "reservation_closed")
    assert site.staff.stats.moves == 2 and site.staff.stats.moves_refused == 4
    assert madrid.get(REQUESTS).json()["requests"] == []


def test_signing_out_revokes_the_session(site: Site) -> None:
    madrid = site.signed_in(KEYS["madrid-staff"])
    token = madrid.cookies[STAFF_COOKIE]
    assert madrid.delete("/staff/session").status_code == 204
    replay = site.browser()
    replay.cookies.set(STAFF_COOKIE, token, domain="testserver", path="/staff")
    _refused(replay.get(REQUESTS), 401, "unauthorized")
    _refused(replay.post(f"{REQUESTS}/{site.hold()}/cancel"), 401, "unauthorized")


def test_the_page_and_its_files_carry_the_dashboards_policy(site: Site) -> None:
    browser = site.browser()
    page = browser.get("/staff/?store=madrid-centro", headers={"Accept-Language": "en-GB"})
    assert page.status_code == 200 and "Store requests" in page.text
    assert page.headers["content-language"] == "en"
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert browser.get("/staff/static/staff.js").status_code == 200
    assert browser.get("/staff/static/../_staff_pages.py").status_code == 404
    assert browser.get("/staff/images/not-in-the-catalog.jpg").status_code == 404
    assert browser.get("/staff?lang=es", follow_redirects=False).status_code == 307


def test_two_assistants_moving_the_same_requests_at_once_on_postgresql_never_lose_a_unit(
        postgres_url: str, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    """One assistant marks ready while another cancels, ten requests at the same instant: each ends
    cancelled (a ready one may still be cancelled; a cancelled one is never ready), and every unit is free."""
    store = ProfileStore(postgres_url)
    store.stock.load_catalog(load_catalog(demo_catalog_path()))
    keys = ApiKeys(KEYS, grants=GRANTS)
    server = ApiServer(create_app(store, keys, staff=StaffPage(store, StaffSessions(keys, None))), port=free_port())
    server.start()
    try:
        with httpx.Client(base_url=server.url, headers={"X-Api-Key": KEYS["web"]}) as web:
            made = [web.post(f"/v1/stores/{STORE}/reservations", json={"sku": "COAT-WOOL-GRY", "size": "XL",
                                                                       "kind": "fitting_room"}).json()["id"]
                    for _ in range(6)]
            start = threading.Barrier(2 * len(made))
            answers: dict[tuple[str, str], int] = {}

            def press(reservation: str, action: str) -> None:
                with httpx.Client(base_url=server.url, timeout=60) as phone:
                    assert phone.post("/staff/session", json={"credential": KEYS["madrid-staff"]}).status_code == 204
                    start.wait(30)
                    body = {"note": "Probador 1"} if action == "ready" else None
                    answers[(reservation, action)] = phone.post(f"{REQUESTS}/{reservation}/{action}",
                                                                json=body).status_code

            threads = [threading.Thread(target=press, args=(r, action)) for r in made for action in ("ready", "cancel")]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(120)
            assert all(answers[(r, "cancel")] == 200 for r in made)
            assert all(answers[(r, "ready")] in (200, 409) for r in made)
            assert {store.reservations.get(STORE, r).state.value for r in made} == {"cancelled"}  # type: ignore[union-attr]
            sizes = web.get(f"/v1/stores/{STORE}/stock", params={"sku": "COAT-WOOL-GRY"}).json()["stock"]
            assert next(s for s in sizes if s["size"] == "XL")["held"] == 0
    finally:
        server.stop()
        store.close()
