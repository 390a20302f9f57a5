"""The demo's HQ for every channel: the profile API, the fleet dashboard and the phone pages.

They are the ones ``kiosk hq serve`` gives a retailer (``serve_options`` adds them to the
demo's HQ), on a local port, with the demo's API keys in a file only its owner reads and
a hand-off key, so the kiosk's QR code carries a real hand-off link. What the demo prints
names the key file, never a key. ``prove_http_side`` is the headless run's check that a
channel, a phone, the QR code and the analytics reach what the kiosk's taps stored.
"""

from __future__ import annotations

import html
import re
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from hq import load_api_keys, write_new_api_keys
from kiosk_protocol import Catalog, write_atomically

DEMO_CHANNELS = ("web", "app", "hq")  # the web shop, the app, and HQ's staff (the dashboard's channel)
DEMO_SKU = "BOOT-CHELSEA-BLK"  # the product the printed phone page shows
DEMO_OFFER = "WINTER-BOOTS"  # the offer whose page is printed (the simulator's sign names it too)
_API_KEY_HEADER = "X-Api-Key"  # where a channel's key goes (docs/api.md)
_CHECK_TIMEOUT_S = 15.0
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass(frozen=True)
class DemoHq:
    """Where the demo's HQ answers over HTTP, and the files of its secrets."""

    port: int
    keys_file: Path
    handoff_key: Path

    @property
    def url(self) -> str:
        """HQ's own address: the API under /v1, the dashboard under /fleet/, the phone pages under /p/."""
        return f"http://127.0.0.1:{self.port}"

    def key(self, channel: str) -> str:
        """A channel's key, read from the key file (for the demo's own calls; never printed)."""
        return load_api_keys(self.keys_file).keys[channel]

    def key_file(self, channel: str) -> Path:
        """The file holding only ``channel``'s key, for a shell to read: ``$(cat FILE)``."""
        return self.keys_file.with_name(f"{channel}.key")


def prepare_hq(workdir: Path, port: int) -> DemoHq:
    """The demo's HQ on ``port``: its API keys made on the first run in ``workdir`` (kept after, with
    ``--data-dir``), the hand-off key made by HQ itself when it starts."""
    folder = workdir / "hq"
    folder.mkdir(mode=0o700, exist_ok=True)
    keys_file = folder / "api-keys.json"
    if not keys_file.exists():
        write_new_api_keys(keys_file, DEMO_CHANNELS)
    hq = DemoHq(port, keys_file, folder / "handoff.key")
    for channel in DEMO_CHANNELS:  # each key alone too, readable by its owner only
        write_atomically(hq.key_file(channel), hq.key(channel).encode())
    return hq


def serve_options(hq: DemoHq, catalog: Path, public_url: str | None) -> list[str]:
    """What ``kiosk hq serve`` takes to serve the API, the dashboard and the phone pages of ``catalog``
    (and sign hand-off links on ``public_url``, HQ's own address by default): files, never secrets."""
    options = ["--api-port", str(hq.port), "--api-keys", str(hq.keys_file), "--catalog", str(catalog),
               "--handoff-key", str(hq.handoff_key)]
    return options + (["--public-url", public_url] if public_url else [])


def guide(hq: DemoHq, store: str, shopper: str, shop_url: str) -> str:
    """What a newcomer can open and call once the demo is up (keys by the file that holds them)."""
    return "\n".join([
        f"HQ on {hq.url}; the kiosk's product tags and QR codes open {shop_url}",
        f"  fleet dashboard  {hq.url}/fleet/  (sign in with the hq key, in {hq.key_file('hq')})",
        f"  phone page       {hq.url}/p/{DEMO_SKU}?store={store}",
        f"  an offer's page  {hq.url}/o/{DEMO_OFFER}?store={store}  (offers on the dashboard: {hq.url}/fleet/offers)",
        f"  analytics        {hq.url}/fleet/analytics?store={store}  (the kiosk's taps by hour and product; "
        "the hq key)",
        f'  profile API      curl -H "X-Api-Key: $(cat {hq.key_file("web")})" {hq.url}/v1/shoppers/{shopper}',
        f"                   (every route: {hq.url}/docs)",
        f"  keys             {hq.keys_file} (readable by you only; the web, app and hq channels)",
        "try: open the phone page beside the kiosk window; tap the loyalty card in the simulator, agree, add "
        "to the wishlist on the kiosk, and read the profile back with the curl above; tap the simulator's "
        "offer sign for the deal it names",
    ])


@dataclass(frozen=True)
class Tapped:
    """A product the headless demo tapped, and the event the kiosk sent for it."""

    sku: str
    event_id: uuid.UUID


def prove_http_side(hq: DemoHq, catalog: Catalog, store: str, shopper: str, taps: Sequence[Tapped],
                    handoff_link: str | None) -> bool:
    """Check, printing one line each, that HQ's HTTP side shows what the kiosk's taps stored: its
    health, the shopper's profile through the API, a phone page, and the QR code's hand-off link
    opening the visit on a phone, whose wishlist change the API then reads, and the products tapped
    in the store's analytics. True if all passed."""
    print("HQ's HTTP side, as a channel, a phone and the analytics page see it:")
    with httpx.Client(base_url=hq.url, timeout=10) as client:
        checks = [_health(client), _profile_history(client, hq.key("web"), shopper, taps),
                  _phone_page(client, catalog, store, taps[0].sku if taps else DEMO_SKU)]
        checks += _phone_visit(client, hq, catalog, shopper, taps, handoff_link)
        checks.append(_analytics(client, hq.key("hq"), store, taps))
    passed = sum(checks)
    print(f"HTTP side: {passed}/{len(checks)} checks passed")
    return passed == len(checks)


def _line(what: str, said: str, ok: bool) -> bool:
    print(f"  {what:<16} {said}: {'yes' if ok else 'NO'}")
    return ok


def _health(client: httpx.Client) -> bool:
    try:
        status = client.get("/v1/health").status_code
    except httpx.HTTPError as exc:
        return _line("health", f"GET /v1/health: {exc}", False)
    return _line("health", f"GET /v1/health: {status}", status == 200)


def _profile(client: httpx.Client, key: str, shopper: str) -> dict[str, Any]:
    answer = client.get(f"/v1/shoppers/{shopper}", params={"history_limit": 1000}, headers={_API_KEY_HEADER: key})
    return dict(answer.json()) if answer.status_code == 200 else {}


def _profile_history(client: httpx.Client, key: str, shopper: str, taps: Sequence[Tapped]) -> bool:
    """Every tap's event in the profile a channel reads, waiting a little for the consent to join them."""
    wanted, found = {str(tap.event_id) for tap in taps}, set[str]()
    deadline = time.monotonic() + _CHECK_TIMEOUT_S
    try:
        while True:
            history = _profile(client, key, shopper).get("history", [])
            found = wanted & {str(entry["event_id"]) for entry in history}
            if found == wanted or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    except httpx.HTTPError as exc:
        return _line("profile API", f"GET /v1/shoppers/{shopper}: {exc}", False)
    return _line("profile API", f"GET /v1/shoppers/{shopper} with the web key: {len(found)}/{len(wanted)} "
                                "taps in its history", bool(wanted) and found == wanted)


def _phone_page(client: httpx.Client, catalog: Catalog, store: str, sku: str) -> bool:
    name = _name(catalog, sku)
    try:
        page = client.get(f"/p/{sku}", params={"store": store, "lang": "es"})
    except httpx.HTTPError as exc:
        return _line("phone page", f"GET /p/{sku}: {exc}", False)
    return _line("phone page", f"GET /p/{sku}?store={store}: {page.status_code}, shows {name!r}",
                 page.status_code == 200 and name in html.unescape(page.text))


def _phone_visit(client: httpx.Client, hq: DemoHq, catalog: Catalog, shopper: str, taps: Sequence[Tapped],
                 link: str | None) -> list[bool]:
    """Open the QR code's link as a phone would, add to the wishlist there, and read it back through the API.

    The link is asked of HQ by its path: with ``--shop-url``, its host may be a shop that is not running.
    """
    if link is None:
        return [_line("kiosk's QR code", "no hand-off link came from HQ", False),
                _line("phone wishlist", "not tried", False)]
    shown = link.split("/h/", 1)[0] + "/h/…"  # the link is the visit's key: never printed whole
    sku = taps[0].sku if taps else DEMO_SKU
    name = _name(catalog, sku)
    try:
        visit = client.get(urlsplit(link).path, params={"lang": "es"}, follow_redirects=True)
        opened = _line("kiosk's QR code", f"{shown} opened the visit on a phone: {visit.status_code}, shows {name!r}",
                       visit.status_code == 200 and urlsplit(str(visit.url)).path == "/phone/visit"
                       and name in html.unescape(visit.text))
        token = _FORM_TOKEN.search(visit.text)
        if token is None:
            return [opened, _line("phone wishlist", "the visit page offers no wishlist (no shopper who agreed)", False)]
        client.post("/phone/wishlist", data={"sku": sku, "action": "add", "form_token": token.group(1), "lang": "es"},
                    headers={"Origin": hq.url})
        wishlist = _profile(client, hq.key("web"), shopper).get("wishlist", [])
    except httpx.HTTPError as exc:
        return [_line("kiosk's QR code", f"{shown}: {exc}", False), _line("phone wishlist", "not tried", False)]
    return [opened, _line("phone wishlist", f"{sku} added on the phone, in the wishlist the API reads",
                          sku in wishlist)]


def _analytics(client: httpx.Client, key: str, store: str, taps: Sequence[Tapped]) -> bool:
    """Every product tapped counted in the store's top products, as the analytics page reads them.

    The range is a day either side of today in UTC, so the store's own local today is in it
    whatever its time zone; a kept data dir may hold earlier runs' taps, so each count is at least this run's.
    """
    today = datetime.now(UTC).date()
    wanted = Counter(tap.sku for tap in taps)
    params = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1)), "store": store,
              "limit": str(max(50, len(wanted)))}
    try:
        answer = client.get("/fleet/api/analytics/top-products", params=params, headers={_API_KEY_HEADER: key})
    except httpx.HTTPError as exc:
        return _line("analytics", f"GET /fleet/api/analytics/top-products: {exc}", False)
    counted = {row["sku"]: row["taps"] for row in answer.json().get("rows", [])} if answer.status_code == 200 else {}
    shown = sum(1 for sku, taps_of in wanted.items() if counted.get(sku, 0) >= taps_of)
    return _line("analytics", f"GET /fleet/api/analytics/top-products?store={store} with the hq key: "
                              f"{answer.status_code}, {shown}/{len(wanted)} products tapped counted",
                 bool(wanted) and shown == len(wanted))


def _name(catalog: Catalog, sku: str) -> str:
    product = catalog.product(sku)
    return product.name.get("es") if product else sku
