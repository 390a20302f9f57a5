"""Signed catalog updates against a real HTTP file server: applied atomically and as a
delta, and every attack refused with a clear reason while the kiosk keeps serving."""

from __future__ import annotations

import json
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Mount, Route

from backend_sync import CatalogError, load_catalog
from backend_sync._manifest import Refusal, UpdateRefused, unverified_manifest
from backend_sync._updater import CatalogUpdater
from backend_sync.hq._files import FileServer, file_app
from backend_sync.hq._publish import CatalogPublisher
from kiosk_app.demo import demo_catalog_path, free_port

HQ = Ed25519PrivateKey.generate()


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the demo catalog HQ can edit."""
    target = tmp_path / "hq-catalog"
    shutil.copytree(demo_catalog_path().parent, target)
    return target


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[CatalogPublisher, FileServer]]:
    publisher = CatalogPublisher(tmp_path / "bundles", HQ)
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    yield publisher, server
    server.stop()


def change_price(catalog_dir: Path, sku: str, price: float) -> None:
    path = catalog_dir / "demo.json"
    data = json.loads(path.read_text())
    next(p for p in data["products"] if p["sku"] == sku)["price"] = price
    path.write_text(json.dumps(data, ensure_ascii=False))


def kiosk(tmp_path: Path, server: FileServer, **kwargs: object) -> CatalogUpdater:
    return CatalogUpdater(tmp_path / "kiosk", HQ.public_key(), server.url, **kwargs)  # type: ignore[arg-type]


def refused(updater: CatalogUpdater, envelope: bytes, *reasons: Refusal) -> str:
    before = updater.current_version
    with pytest.raises(UpdateRefused) as caught:
        updater.apply(envelope)
    assert caught.value.reason in reasons
    assert updater.current_version == before  # the kiosk keeps its last good catalog
    if updater.current_catalog:
        assert load_catalog(updater.current_catalog).catalog_version == before
    return str(caught.value)


def test_first_version_then_a_small_change_arrives_as_a_delta(hq: tuple[CatalogPublisher, FileServer],
                                                            catalog_dir: Path, tmp_path: Path) -> None:
    publisher, server = hq
    updater = kiosk(tmp_path, server)
    updater.apply(publisher.publish(catalog_dir / "demo.json"))
    full = updater.bytes_downloaded
    first = load_catalog(updater.current_catalog)  # type: ignore[arg-type]
    assert first.catalog_version == 1 and len(first.products) == 12
    assert (updater.current_catalog.parent / first.products[0].image).is_file()  # type: ignore[union-attr]

    change_price(catalog_dir, "BOOT-CHELSEA-BLK", 79.95)
    manifest = updater.apply(publisher.publish(catalog_dir / "demo.json"))
    second = load_catalog(updater.current_catalog)  # type: ignore[arg-type]
    assert manifest.version == 2 == second.catalog_version
    assert second.product("BOOT-CHELSEA-BLK").price == 79.95  # type: ignore[union-attr]
    delta_bytes = updater.bytes_downloaded - full
    assert "products.jsonl" in manifest.deltas and delta_bytes < full * 0.05  # no image, no full product file


@pytest.mark.parametrize("how", ["tampered file", "mix-and-match"])
def test_a_file_that_is_not_what_was_signed_is_refused(hq: tuple[CatalogPublisher, FileServer], catalog_dir: Path,
                                                       tmp_path: Path, how: str) -> None:
    publisher, server = hq
    updater = kiosk(tmp_path, server)
    updater.apply(publisher.publish(catalog_dir / "demo.json"))
    change_price(catalog_dir, "BAG-TOTE-BRN", 99.0)
    v2 = publisher.publish(catalog_dir / "demo.json")
    change_price(catalog_dir, "BAG-TOTE-BRN", 109.0)
    v3 = publisher.publish(catalog_dir / "demo.json")
    target = unverified_manifest(v2).deltas["products.jsonl"].sha256
    served = publisher.directory / "objects" / target
    if how == "tampered file":
        served.write_bytes(served.read_bytes().replace(b"99.0", b"9.0"))
    else:  # v3's delta offered where v2's manifest names its own
        served.write_bytes((publisher.directory / "objects" / unverified_manifest(v3).deltas[
            "products.jsonl"].sha256).read_bytes())
    # Caught by its size when it is larger than signed, by its hash otherwise.
    assert "signed" in refused(updater, v2, Refusal.FILE_MISMATCH, Refusal.TOO_LARGE)


def test_bad_signature_rollback_and_freeze_are_refused(hq: tuple[CatalogPublisher, FileServer], catalog_dir: Path,
                                                       tmp_path: Path) -> None:
    publisher, server = hq
    updater = kiosk(tmp_path, server)
    v1 = publisher.publish(catalog_dir / "demo.json")
    forger = CatalogPublisher(tmp_path / "forged", Ed25519PrivateKey.generate())
    assert "not HQ's" in refused(updater, forger.publish(catalog_dir / "demo.json"), Refusal.BAD_SIGNATURE)
    updater.apply(v1)
    change_price(catalog_dir, "COAT-WOOL-GRY", 150.0)
    updater.apply(publisher.publish(catalog_dir / "demo.json"))
    assert "not newer" in refused(updater, v1, Refusal.NOT_NEWER)  # rollback to v1
    stale = publisher.publish(catalog_dir / "demo.json", valid_for=timedelta(days=-1))
    assert "expired" in refused(updater, stale, Refusal.EXPIRED)  # a frozen mirror
    assert refused(updater, b'{"payload": "!!", "signature": "??"}', Refusal.MALFORMED)


@pytest.mark.parametrize(("offset", "reason", "hint"), [
    (timedelta(days=30), Refusal.EXPIRED, "kiosk clock far ahead"),
    (timedelta(days=-2), Refusal.NOT_YET_VALID, "kiosk clock is far behind"),
])
def test_a_kiosk_clock_far_off_is_told_so(hq: tuple[CatalogPublisher, FileServer], catalog_dir: Path,
                                          tmp_path: Path, offset: timedelta, reason: Refusal, hint: str) -> None:
    publisher, server = hq
    updater = kiosk(tmp_path, server, clock=lambda: datetime.now(UTC) + offset)
    assert hint in refused(updater, publisher.publish(catalog_dir / "demo.json"), reason)


def test_endless_and_oversized_downloads_are_cut_off(catalog_dir: Path, tmp_path: Path) -> None:
    publisher = CatalogPublisher(tmp_path / "bundles", HQ)
    envelope = publisher.publish(catalog_dir / "demo.json")

    async def endless(request: object) -> StreamingResponse:
        async def forever() -> AsyncIterator[bytes]:
            while True:
                yield b"x" * 65536

        return StreamingResponse(forever())

    app = Starlette(routes=[Route("/objects/{digest}", endless), Mount("/", file_app(publisher.directory))])
    server = FileServer(publisher.directory, port=free_port(), app=app)
    server.start()
    try:
        updater = kiosk(tmp_path, server)
        assert "larger than" in refused(updater, envelope, Refusal.TOO_LARGE)
        assert updater.bytes_downloaded < 2_000_000  # stopped at the signed size, not at the server's whim
    finally:
        server.stop()


def test_an_interrupted_download_resumes_where_it_stopped(hq: tuple[CatalogPublisher, FileServer],
                                                          catalog_dir: Path, tmp_path: Path) -> None:
    publisher, server = hq
    envelope = publisher.publish(catalog_dir / "demo.json")
    entry = unverified_manifest(envelope).files["products.jsonl"]
    updater = kiosk(tmp_path, server)
    half = (publisher.directory / "objects" / entry.sha256).read_bytes()[: entry.size // 2]
    (updater.root / "objects" / f"{entry.sha256}.part").write_bytes(half)
    total = sum(e.size for e in unverified_manifest(envelope).files.values())
    updater.apply(envelope)
    assert updater.bytes_downloaded == total - len(half)


def test_hq_refuses_to_publish_a_broken_catalog(tmp_path: Path, catalog_dir: Path) -> None:
    publisher = CatalogPublisher(tmp_path / "bundles", HQ)
    (catalog_dir / "images" / "boot-chelsea-blk.png").unlink()
    with pytest.raises(CatalogError, match="not found"):
        publisher.publish(catalog_dir / "demo.json")
    assert publisher.latest_version == 0
