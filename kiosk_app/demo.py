"""``kiosk demo``: the whole system on one machine with no setup.

One process tree: an MQTT broker (embedded amqtt unless ``--broker`` is given), HQ on
SQLite (``kiosk hq serve``: ingest, profile responder, and on a local port the profile API,
fleet dashboard and phone pages, ``_demo_hq``), the kiosk, and a tag simulator whose taps
go through nfcpy's udp driver to the kiosk's nfcpy reader. The demo catalog names HQ's
address as its shop, so its product tags and the kiosk's QR codes open HQ's phone pages;
``--shop-url`` names another.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import BROKER_URL_ENV, without_password
from hq import CatalogPublisher, ProfileStore, announce, import_offers
from kiosk_app._demo_hq import DemoHq, Tapped, guide, prepare_hq, prove_http_side, serve_options
from kiosk_app.kiosk import OutcomeKind, TapOutcome
from kiosk_app.runtime import KioskConfig, KioskRuntime
from kiosk_app.staff import pin_file, write_pin
from kiosk_protocol import (
    OFFERS_FILE,
    Catalog,
    CatalogError,
    Offer,
    Role,
    dump_catalog,
    issue_token,
    load_catalog,
    public_key_to_pem,
)
from nfc_reader import TagEmulator, encode_card, encode_product

log = logging.getLogger(__name__)

DEMO_STORE = "madrid-centro"
DEMO_KIOSK = "kiosk-01"
DEMO_SHOPPER = "demo-shopper-0001"
DEMO_STAFF = "demo-staff-0001"
# Staff mode in the demo: the simulator's staff badge, or this PIN after holding the kiosk label.
DEMO_STAFF_PIN = "2468"
_STARTUP_TIMEOUT_S = 30.0
_HQ_STORE_TIMEOUT_S = 15.0


def demo_catalog_path() -> Path:
    """The demo catalog shipped in ``assets``."""
    return Path(str(resources.files("assets") / "catalog" / "demo.json"))


def demo_catalog(workdir: Path, shop_url: str | None) -> Path:
    """The demo catalog; with ``shop_url``, a copy of it (images too) in ``workdir`` naming that shop.

    Raises:
        CatalogError: ``shop_url`` is no http(s) address a catalog may hold.
    """
    source = demo_catalog_path()
    if shop_url is None:
        return source
    if not shop_url.startswith(("http://", "https://")):
        raise CatalogError(f"not a shop address: {shop_url!r} (http(s)://host[:port])")
    try:
        catalog = Catalog.model_validate({**load_catalog(source).model_dump(), "shop_url": shop_url.rstrip("/")})
    except ValueError as exc:
        raise CatalogError(f"not a shop address: {shop_url!r}: {exc}") from exc
    folder = workdir / "catalog"
    shutil.copytree(source.parent / "images", folder / "images", dirs_exist_ok=True)
    shutil.copy(source.with_name(OFFERS_FILE), folder / OFFERS_FILE)  # the kiosk's offers until HQ's bundle
    (folder / source.name).write_text(dump_catalog(catalog), encoding="utf-8")
    return folder / source.name


def seed_offers(db: str, catalog: Path) -> list[Offer]:
    """Import the demo's offers (``offers.json`` beside its catalog) into HQ's database, as
    ``kiosk hq offers import`` does; returns every offer HQ then holds."""
    store = ProfileStore(db)
    try:
        import_offers(catalog.with_name(OFFERS_FILE), store.offers, load_catalog(catalog))
        return store.offers.all()
    finally:
        store.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 that nothing listens on right now, and that names no service.

    nfcpy's udp driver reads its port back through ``getnameinfo``, which answers a port
    listed in /etc/services by the service's name (57000: ``dircproxy``), and then fails.
    """
    while True:
        with socket.socket(socket.AF_INET, kind) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if not names_a_service(port):
            return port


def names_a_service(port: int) -> bool:
    """Whether /etc/services names ``port``, as ``getnameinfo`` would answer it."""
    try:
        socket.getservbyport(port, "tcp")
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class DemoSetup:
    """Files and addresses one demo run uses."""

    workdir: Path
    broker: str
    hq_db: str
    reader: str
    card_token: str
    badge_token: str
    kiosk: KioskConfig
    hq_key: Ed25519PrivateKey
    files_port: int
    hq_http: DemoHq


def prepare(workdir: Path, broker: str, catalog: Path, hq_http: DemoHq) -> DemoSetup:
    """Make HQ's signing key, a loyalty card for the demo shopper, and the kiosk's config (on ``catalog``);
    ``hq_http`` is where HQ serves the API, the dashboard and the phone pages."""
    key = Ed25519PrivateKey.generate()
    public_pem = workdir / "hq_public_key.pem"
    public_pem.write_bytes(public_key_to_pem(key.public_key()))
    reader = f"udp:127.0.0.1:{free_port(socket.SOCK_DGRAM)}"
    files_port = free_port()
    config = KioskConfig(
        store=DEMO_STORE,
        kiosk=DEMO_KIOSK,
        catalog=catalog,
        reader=reader,
        broker=broker,
        data_dir=workdir / "kiosk",
        hq_public_key=public_pem,
        files_url=f"http://127.0.0.1:{files_port}",
    )
    return DemoSetup(
        workdir=workdir,
        broker=broker,
        hq_db=f"sqlite:///{workdir / 'hq.sqlite'}",
        reader=reader,
        card_token=issue_token(key, DEMO_SHOPPER, Role.SHOPPER, valid_for_s=30 * 24 * 3600),
        badge_token=issue_token(key, DEMO_STAFF, Role.STAFF, valid_for_s=30 * 24 * 3600),
        kiosk=config,
        hq_key=key,
        files_port=files_port,
        hq_http=hq_http,
    )


def run_demo(broker: str | None, headless: bool, taps: int, keep_data: Path | None = None,
             shop_url: str | None = None) -> int:
    """Run the demo until the window closes, Ctrl-C, or (headless) ``taps`` taps are done.

    ``shop_url`` is the shop the demo catalog's tags and QR codes name (``demo_catalog``;
    HQ's own phone pages by default). Returns the process exit code: headless, 0 only if HQ
    stored every tap's event and its HTTP side showed them (``prove_http_side``).
    """
    if not headless and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("no screen here (DISPLAY is not set): running the demo headless")
        headless = True
    workdir = keep_data or Path(tempfile.mkdtemp(prefix="kiosk-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        hq_http = prepare_hq(workdir, free_port())
        with _services(workdir, broker, demo_catalog(workdir, shop_url or hq_http.url), hq_http, shop_url) as setup:
            if headless:
                return _run_headless(setup, taps)
            _run_window(setup)
            return 0
    except KeyboardInterrupt:
        print("demo stopped")
        return 130
    finally:
        if keep_data is None:
            shutil.rmtree(workdir, ignore_errors=True)


@contextlib.contextmanager
def _services(workdir: Path, broker: str | None, catalog: Path, hq_http: DemoHq,
              shop_url: str | None) -> Iterator[DemoSetup]:
    children: list[subprocess.Popen[str]] = []
    try:
        if broker is None:
            port = free_port()
            broker = f"mqtt://127.0.0.1:{port}?protocol=3.1.1"  # the embedded broker has no MQTT 5
            children.append(spawn_kiosk_command(["broker", "--port", str(port)], ready="broker ready"))
        setup = prepare(workdir, broker, catalog, hq_http)
        offers = seed_offers(setup.hq_db, catalog)
        # In the environment, not on HQ's command line: a broker given to the demo may hold a password.
        hq_serve = ["hq", "serve", "--db", setup.hq_db, "--hq-key", str(setup.kiosk.hq_public_key)]
        children.append(spawn_kiosk_command([*hq_serve, *serve_options(hq_http, catalog, shop_url)],
                                            ready="HQ API on", env={BROKER_URL_ENV: broker}))
        # HQ signs the demo catalog as version 1, with its offers, and announces
        # it: the kiosk fetches it through the same verified update path a store's kiosks use.
        bundles = workdir / "bundles"
        announce(broker, CatalogPublisher(bundles, setup.hq_key).publish(catalog, offers=offers))
        children.append(spawn_kiosk_command(["hq", "files", "--dir", str(bundles), "--port", str(setup.files_port)],
                               ready="HQ files ready"))
        print(f"broker {without_password(broker)} · HQ database {setup.hq_db} · HQ files {setup.kiosk.files_url} · "
              f"HQ API {hq_http.url}/v1 · reader {setup.reader}")
        yield setup
    finally:
        stop_all(children)


def spawn_kiosk_command(args: list[str], ready: str, timeout_s: float = _STARTUP_TIMEOUT_S,
                        env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``kiosk ARGS`` (with ``env`` added to this process's environment) and wait for
    it to print its ready line."""
    child = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", *args], stdout=subprocess.PIPE, text=True, bufsize=1,
        env={**os.environ, **(env or {})},
    )
    assert child.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = child.stdout.readline()
        if ready in line:
            return child
        if not line and child.poll() is not None:
            break
    stop_all([child])
    raise RuntimeError(f"`kiosk {' '.join(args)}` did not start (exit code {child.poll()})")


def stop_all(children: Sequence[subprocess.Popen[Any]]) -> None:
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGINT)
    for child in reversed(children):
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def _run_headless(setup: DemoSetup, taps: int) -> int:
    catalog = load_catalog(setup.kiosk.catalog)
    _print_guide(setup, catalog)
    outcomes: queue.Queue[TapOutcome] = queue.Queue()
    links: queue.Queue[str] = queue.Queue()
    runtime = KioskRuntime(setup.kiosk, on_outcome=outcomes.put)
    hq = ProfileStore(setup.hq_db)
    emulator = TagEmulator(int(setup.reader.rsplit(":", 1)[1]))
    runtime.start()
    tapped: list[Tapped] = []
    try:
        _sign_in(emulator, outcomes, runtime, setup.card_token)
        for number in range(1, taps + 1):
            product = catalog.products[(number - 1) % len(catalog.products)]
            if not emulator.tap(encode_product(catalog.shop_url, product.sku)):
                print(f"tap {number}/{taps}: {product.sku}: the reader did not read the tag")
                continue
            outcome = outcomes.get(timeout=10)
            shown = outcome.product.name.get("es") if outcome.product else outcome.reason
            at_hq = outcome.kind is OutcomeKind.PRODUCT and _wait_stored(hq, str(outcome.event_id))
            if at_hq and outcome.event_id is not None:
                tapped.append(Tapped(product.sku, outcome.event_id))
            print(f"tap {number}/{taps}: {product.sku} -> shown {shown!r} -> HQ stored event: "
                  f"{'yes' if at_hq else 'NO'}")
        print(f"{len(tapped)}/{taps} taps shown and stored at HQ")
        # The link the kiosk's QR code would show for this visit, as a phone would open it.
        link = runtime.handoff_link(links.put) or _next(links, _HQ_STORE_TIMEOUT_S)
        proven = prove_http_side(setup.hq_http, catalog, DEMO_STORE, DEMO_SHOPPER, tapped, link)
    finally:
        runtime.stop()
        emulator.close()
        hq.close()
    return 0 if len(tapped) == taps and proven else 1


def _sign_in(emulator: TagEmulator, outcomes: queue.Queue[TapOutcome], runtime: KioskRuntime, card: str) -> None:
    """Tap the demo shopper's loyalty card and agree on the kiosk, so the taps join their profile."""
    signed_in = emulator.tap(encode_card(card)) and outcomes.get(timeout=10).kind is OutcomeKind.SIGNED_IN
    if signed_in:
        runtime.consent(True)
    print(f"card of {DEMO_SHOPPER}: " + ("signed in, agreed to link this visit to their profile" if signed_in
                                          else "NOT signed in; the taps stay anonymous"))


def _next(items: queue.Queue[str], timeout_s: float) -> str | None:
    try:
        return items.get(timeout=timeout_s)
    except queue.Empty:
        return None


def _wait_stored(hq: ProfileStore, event_id: str) -> bool:
    deadline = time.monotonic() + _HQ_STORE_TIMEOUT_S
    while time.monotonic() < deadline:
        if hq.has_event(event_id):
            return True
        time.sleep(0.05)
    return False


def _run_window(setup: DemoSetup) -> None:
    from kiosk_app.ui import run_kiosk_window

    write_pin(pin_file(setup.kiosk.data_dir), DEMO_STAFF_PIN)
    print(f"staff mode: the simulator's staff badge, or hold the kiosk label (bottom right) for 2 s "
          f"and enter PIN {DEMO_STAFF_PIN}")
    simulator = subprocess.Popen(
        [sys.executable, "-m", "kiosk_app", "nfc", "simulator", "--device", setup.reader,
         "--catalog", str(setup.kiosk.catalog), "--card-token", setup.card_token, "--badge-token", setup.badge_token]
    )
    _print_guide(setup, load_catalog(setup.kiosk.catalog))
    try:
        run_kiosk_window(setup.kiosk, fullscreen=False)
    finally:
        stop_all([simulator])


def _print_guide(setup: DemoSetup, catalog: Catalog) -> None:
    print(guide(setup.hq_http, DEMO_STORE, DEMO_SHOPPER, catalog.shop_url), flush=True)
