"""Offers travel in the signed catalog bundle: HQ's offers, published with a catalog version,
reach a kiosk through the real file server and updater and sit beside its catalog; a
tampered, forged or unparsable offers file refuses the whole version and the last good
offers stay; a kiosk whose offers do not load says so in its status."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync._updater import CatalogUpdater
from hq import ProfileStore, import_offers
from hq._files import FileServer
from hq._fleet import AlertKind, FleetThresholds, kiosk_alerts
from hq._publish import ENDED_KEPT, CatalogPublisher
from kiosk_app._offers import offers_beside
from kiosk_app.cli import main
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_app.runtime import KioskConfig, KioskRuntime
from kiosk_protocol import OFFERS_FILE, KioskStatus, LinkState, Offer, OfferList, load_catalog, parse_offers
from kiosk_protocol._manifest import Refusal, UpdateRefused, unverified_manifest
from testkit.keys import hq_signing_key

HQ = Ed25519PrivateKey.generate()
SHIPPED_OFFERS = demo_catalog_path().with_name(OFFERS_FILE)


@pytest.fixture
def catalog_dir(tmp_path: Path) -> Path:
    """A copy of the demo catalog HQ can edit (its offers file left behind: HQ's come from its database)."""
    target = tmp_path / "hq-catalog"
    shutil.copytree(demo_catalog_path().parent, target, ignore=shutil.ignore_patterns(OFFERS_FILE))
    return target


@pytest.fixture
def book(sqlite_url: str) -> Iterator[ProfileStore]:
    """HQ's database holding the demo's three offers (one of them ended)."""
    store = ProfileStore(sqlite_url)
    import_offers(SHIPPED_OFFERS, store.offers, load_catalog(demo_catalog_path()))
    yield store
    store.close()


@pytest.fixture
def hq(tmp_path: Path) -> Iterator[tuple[CatalogPublisher, FileServer]]:
    publisher = CatalogPublisher(tmp_path / "bundles", HQ)
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    yield publisher, server
    server.stop()


def kiosk_offers(updater: CatalogUpdater) -> list[str]:
    """The ids of the offers the kiosk's catalog in use has beside it (and no problem with them)."""
    assert updater.current_catalog is not None
    offers, problem = offers_beside(updater.current_catalog)
    assert problem == ""
    return [offer.id for offer in offers.offers]


def change_price(catalog_dir: Path, sku: str, price: float) -> None:
    path = catalog_dir / "demo.json"
    data = json.loads(path.read_text())
    next(p for p in data["products"] if p["sku"] == sku)["price"] = price
    path.write_text(json.dumps(data, ensure_ascii=False))


def an_offer(**changes: Any) -> Offer:
    return Offer.model_validate({
        "id": "MADRID-BAGS", "title": {"es": "Bolsos", "en": "Bags"}, "terms": {"es": "En tienda", "en": "In store"},
        "discount": {"kind": "percent", "value": 15}, "category": "bags", "stores": ["madrid-centro"],
        "starts": "2026-01-01T00:00:00+00:00", "ends": "2030-01-01T00:00:00+00:00", **changes})


def refused(updater: CatalogUpdater, envelope: bytes, *reasons: Refusal) -> str:
    before, offers = updater.current_version, kiosk_offers(updater)
    with pytest.raises(UpdateRefused) as caught:
        updater.apply(envelope)
    assert caught.value.reason in reasons
    assert updater.current_version == before and kiosk_offers(updater) == offers  # the last good ones stay
    return str(caught.value)


def test_the_offers_of_its_stores_reach_the_kiosk_beside_its_catalog(
        hq: tuple[CatalogPublisher, FileServer], catalog_dir: Path, book: ProfileStore, tmp_path: Path) -> None:
    publisher, server = hq
    updater = CatalogUpdater(tmp_path / "kiosk", HQ.public_key(), server.url)
    long_ended = datetime.now(UTC) - ENDED_KEPT - timedelta(days=1)
    book.offers.merge([an_offer(id="OLD-BAGS", starts=(long_ended - timedelta(days=30)).isoformat(),
                                ends=long_ended.isoformat())])
    manifest = updater.apply(publisher.publish(catalog_dir / "demo.json", offers=book.offers.all()))
    assert OFFERS_FILE in manifest.files
    # SUMMER-SANDALS ended lately and travels, for its signs' "ended on"; OLD-BAGS ended over a year ago.
    assert kiosk_offers(updater) == ["MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]
    assert updater.current_catalog is not None
    assert updater.current_catalog.with_name(OFFERS_FILE).is_file()

    book.offers.merge([an_offer()])
    change_price(catalog_dir, "BOOT-CHELSEA-BLK", 79.95)
    second = updater.apply(publisher.publish(catalog_dir / "demo.json", offers=book.offers.all()))
    assert "products.jsonl" in second.deltas  # the products still travel as a delta
    assert kiosk_offers(updater) == ["MADRID-BAGS", "MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]

    updater.apply(publisher.publish(catalog_dir / "demo.json"))  # published without offers: the kiosk has none
    assert kiosk_offers(updater) == []


def test_a_regional_bundle_carries_only_its_stores_offers(catalog_dir: Path, book: ProfileStore,
                                                          tmp_path: Path) -> None:
    book.offers.merge([an_offer(), an_offer(id="SCHEDULED", starts="2029-01-01T00:00:00+00:00")])
    publisher = CatalogPublisher(tmp_path / "barcelona", HQ)
    envelope = publisher.publish(catalog_dir / "demo.json", stores=["barcelona-diagonal"], offers=book.offers.all())
    shipped = parse_offers((publisher.directory / "objects" / unverified_manifest(envelope).files[
        OFFERS_FILE].sha256).read_bytes())
    assert [o.id for o in shipped.offers] == ["MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]  # not Madrid's bags
    madrid = CatalogPublisher(tmp_path / "madrid", HQ)
    envelope = madrid.publish(catalog_dir / "demo.json", stores=["madrid-centro"], offers=book.offers.all())
    shipped = parse_offers((madrid.directory / "objects" / unverified_manifest(envelope).files[
        OFFERS_FILE].sha256).read_bytes())
    assert [o.id for o in shipped.offers] == ["MADRID-BAGS", "MEMBERS-KNIT", "SCHEDULED", "SUMMER-SANDALS",
                                              "WINTER-BOOTS"]


def test_tampered_forged_and_unparsable_offers_refuse_the_version(
        hq: tuple[CatalogPublisher, FileServer], catalog_dir: Path, book: ProfileStore, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    publisher, server = hq
    updater = CatalogUpdater(tmp_path / "kiosk", HQ.public_key(), server.url)
    updater.apply(publisher.publish(catalog_dir / "demo.json", offers=book.offers.all()))
    assert kiosk_offers(updater) == ["MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]

    # The offers file changed on the file server after HQ signed it: 10% off became 90% off.
    book.offers.merge([an_offer(discount={"kind": "percent", "value": 10})])
    tampered = publisher.publish(catalog_dir / "demo.json", offers=book.offers.all())
    served = publisher.directory / "objects" / unverified_manifest(tampered).files[OFFERS_FILE].sha256
    served.write_bytes(served.read_bytes().replace(b'"value": "10"', b'"value": "90"'))
    assert "does not match its signed hash" in refused(updater, tampered, Refusal.FILE_MISMATCH)

    # A manifest, and its offers, signed by another key than HQ's.
    forger = CatalogPublisher(tmp_path / "forged", Ed25519PrivateKey.generate())
    forged = forger.publish(catalog_dir / "demo.json", offers=[an_offer(discount={"kind": "percent", "value": 90})])
    assert "not HQ's" in refused(updater, forged, Refusal.BAD_SIGNATURE)

    # HQ itself signed offers no kiosk can read (a bug in its exporter): the whole version is refused.
    monkeypatch.setattr("hq._publish.offers_json", lambda offers: b'{"offers": [{"id": "lower case"}]}')
    unparsable = publisher.publish(catalog_dir / "demo.json", offers=book.offers.all())
    assert "offers are not valid" in refused(updater, unparsable, Refusal.INVALID_CONTENT)


def test_the_publish_command_takes_the_offers_database(catalog_dir: Path, book: ProfileStore,
                                                       tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["hq", "keygen", "--dir", str(tmp_path / "hq")]).exit_code == 0
    url_file = tmp_path / "offers.url"
    url_file.write_text(book.url)
    url_file.chmod(0o600)
    bundles = tmp_path / "bundles"
    result = runner.invoke(main, ["hq", "catalog", "publish", str(catalog_dir / "demo.json"), "--dir", str(bundles),
                                  "--key", str(tmp_path / "hq" / "hq_key.pem"), "--offers-db-url-file",
                                  str(url_file)])
    assert result.exit_code == 0, result.output
    manifest = unverified_manifest((bundles / "manifests" / "catalog-1").read_bytes())
    shipped = parse_offers((bundles / "objects" / manifest.files[OFFERS_FILE].sha256).read_bytes())
    assert [o.id for o in shipped.offers] == ["MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]
    result = runner.invoke(main, ["hq", "catalog", "publish", str(catalog_dir / "demo.json"), "--dir", str(bundles),
                                  "--key", str(tmp_path / "hq" / "hq_key.pem"), "--offers-db", book.url])
    assert result.exit_code == 0, result.output
    assert OFFERS_FILE in unverified_manifest((bundles / "manifests" / "catalog-2").read_bytes()).files
    result = runner.invoke(main, ["hq", "catalog", "publish", str(catalog_dir / "demo.json"), "--dir", str(bundles),
                                  "--key", str(tmp_path / "hq" / "hq_key.pem")])
    assert result.exit_code == 0, result.output
    assert OFFERS_FILE not in unverified_manifest((bundles / "manifests" / "catalog-3").read_bytes()).files
    result = runner.invoke(main, ["hq", "catalog", "publish", str(catalog_dir / "demo.json"), "--dir", str(bundles),
                                  "--key", str(tmp_path / "hq" / "hq_key.pem"), "--offers-db", book.url,
                                  "--offers-db-url-file", str(url_file)])
    assert result.exit_code == 2 and "give --offers-db or --offers-db-url-file, not both" in result.output
    assert not (bundles / "manifests" / "catalog-4").exists()


def test_a_kiosk_whose_offers_do_not_load_says_so_in_its_status(tmp_path: Path) -> None:
    shipped = tmp_path / "shipped"
    shutil.copytree(demo_catalog_path().parent, shipped)
    (shipped / OFFERS_FILE).write_text('{"offers": [{"id": "WINTER-BOOTS"}]}')
    _, pem = hq_signing_key(tmp_path)
    config = KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=shipped / "demo.json",
                         reader="udp:127.0.0.1:9", broker="mqtt://127.0.0.1:9", data_dir=tmp_path / "kiosk",
                         hq_public_key=pem)
    runtime = KioskRuntime(config, on_outcome=lambda outcome: None)
    try:
        assert runtime.kiosk.offers == OfferList(offers=())
        assert "offers are not valid" in runtime.offers_problem
        assert runtime.health().offers_problem == runtime.offers_problem
        status = KioskStatus.model_validate_json(runtime.link._status(LinkState.ONLINE))
        assert status.offers_problem == runtime.offers_problem
        alerts = kiosk_alerts(status, status.at, datetime.now(UTC) + timedelta(seconds=1),
                              FleetThresholds(backlog_high=500, silent_after_s=90))
        said = {a.kind: a.message for a in alerts}  # beside the reader's: it never started here
        assert said[AlertKind.OFFERS_PROBLEM].startswith("Running with no offers: offers are not valid")
    finally:
        runtime.outbox.close()
        runtime.profiles.close()


def test_the_demo_kiosk_starts_on_the_shipped_offers() -> None:
    offers, problem = offers_beside(demo_catalog_path())
    assert problem == "" and [o.id for o in offers.offers] == ["MEMBERS-KNIT", "SUMMER-SANDALS", "WINTER-BOOTS"]
