"""HQ's orders reach a running kiosk over the real broker: lock (kept across a restart),
unlock, identify, and reload the catalog now; staff's "force sync" resends at once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import AlertKind, FleetView, announce
from hq._files import FileServer
from hq._publish import CatalogPublisher
from kiosk_app import KioskConfig, KioskRuntime, Mode
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import CommandKind, LinkState
from nfc_reader import TagKind, TagRead
from testkit.mosquitto import Mosquitto
from testkit.waiting import eventually


def config(tmp_path: Path, broker: str, hq_pem: Path, files_url: str | None = None) -> KioskConfig:
    return KioskConfig(store="madrid-centro", kiosk="kiosk-01", catalog=demo_catalog_path(), reader="udp:127.0.0.1:9",
                       broker=broker, data_dir=tmp_path / "kiosk", hq_public_key=hq_pem, files_url=files_url)


def started(kiosk_config: KioskConfig, remote: list[CommandKind]) -> KioskRuntime:
    runtime = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None, on_remote=remote.append)
    for worker in runtime.updates.values():
        worker.start()
    runtime.link.start()  # no reader needed here
    assert runtime.link.subscribed.wait(10)
    return runtime


def stopped(runtime: KioskRuntime) -> None:
    runtime.link.stop()
    for worker in runtime.updates.values():
        worker.stop()
    runtime.outbox.close()
    runtime.profiles.close()


def online_at_hq(fleet: FleetView) -> None:
    """Wait until HQ sees the kiosk online: its status goes out after its subscriptions on
    the same connection, so from then on the broker delivers it HQ's commands."""
    assert eventually(lambda: (k := fleet.kiosk("madrid-centro", "kiosk-01")) is not None
                      and k.status.state is LinkState.ONLINE, 10)


def _alerts(fleet: FleetView) -> list[AlertKind]:
    """The kiosk's alerts on the fleet view (its reader is not started here, so that one is there too)."""
    view = fleet.kiosk("madrid-centro", "kiosk-01")
    return [] if view is None else [alert.kind for alert in view.alerts]


def test_hq_locks_the_kiosk_through_a_restart_and_unlocks_it(
    mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    remote: list[CommandKind] = []
    kiosk_config = config(tmp_path, mosquitto.url, hq_key[1])
    runtime = started(kiosk_config, remote)
    try:
        online_at_hq(fleet)
        runtime.kiosk.machine.card("shopper-1")
        fleet.send_command("madrid-centro", "kiosk-01", CommandKind.LOCK)
        # The screens are told after the lock: wait for both.
        assert eventually(lambda: runtime.kiosk.machine.mode is Mode.LOCKED and remote == [CommandKind.LOCK], 10)
        assert runtime.kiosk.session.shopper is None  # the shopper's visit went with the lock
        assert eventually(lambda: AlertKind.LOCKED in _alerts(fleet), 10)  # the dashboard sees it
        product = TagRead(TagKind.PRODUCT, "01", sku=runtime.kiosk.catalog.products[0].sku)
        assert runtime.kiosk.handle(product).kind.value == "locked"
    finally:
        stopped(runtime)
    runtime = started(kiosk_config, remote)  # a restart does not bring it back into service
    try:
        assert runtime.kiosk.machine.mode is Mode.LOCKED
        online_at_hq(fleet)
        fleet.send_command("madrid-centro", "kiosk-01", CommandKind.UNLOCK)
        assert eventually(lambda: runtime.kiosk.machine.mode is Mode.IDLE, 10)
        assert eventually(lambda: AlertKind.LOCKED not in _alerts(fleet), 10)
        fleet.send_command("madrid-centro", "kiosk-01", CommandKind.IDENTIFY)
        assert eventually(lambda: remote[-1] is CommandKind.IDENTIFY, 10)
    finally:
        stopped(runtime)
    assert not (kiosk_config.data_dir / "locked.json").exists()


def test_a_damaged_lock_file_still_locks(hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path) -> None:
    kiosk_config = config(tmp_path, "mqtt://127.0.0.1:9", hq_key[1])
    kiosk_config.data_dir.mkdir(parents=True)
    (kiosk_config.data_dir / "locked.json").write_text("{half a fi")
    runtime = KioskRuntime(kiosk_config, on_outcome=lambda outcome: None)
    assert runtime.kiosk.machine.mode is Mode.LOCKED and runtime.kiosk.machine.lock_reason == "locked"
    runtime.outbox.close()
    runtime.profiles.close()


def test_reload_applies_the_announced_catalog_now_instead_of_at_the_next_retry(
    mosquitto: Mosquitto, fleet: FleetView, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    catalog_dir = tmp_path / "hq-catalog"
    shutil.copytree(demo_catalog_path().parent, catalog_dir)
    master = json.loads((catalog_dir / "demo.json").read_text())
    master["products"][0]["price"] = 12.5
    changed = master["products"][0]["sku"]
    (catalog_dir / "demo.json").write_text(json.dumps(master))
    publisher = CatalogPublisher(tmp_path / "bundles", hq_key[0])
    port = free_port()
    announce(mosquitto.url, publisher.publish(catalog_dir / "demo.json"))
    remote: list[CommandKind] = []
    runtime = started(config(tmp_path, mosquitto.url, hq_key[1], f"http://127.0.0.1:{port}"), remote)
    server = FileServer(publisher.directory, port=port)
    try:
        # HQ's file server is down: the update fails and its retry is a minute away.
        assert eventually(lambda: runtime.update_problem.startswith("download_failed"), 20)
        server.start()
        fleet.send_command("madrid-centro", "kiosk-01", CommandKind.RELOAD_CATALOG)
        assert eventually(lambda: runtime.kiosk.catalog.product(changed).price == 12.5, 20)  # type: ignore[union-attr]
        assert eventually(lambda: runtime.update_problem == "", 10)  # cleared just after the swap
        assert runtime.catalog_updater.current_version == 1
    finally:
        stopped(runtime)
        server.stop()


def test_force_sync_resends_unconfirmed_events_at_once(
    mosquitto: Mosquitto, hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    runtime = started(config(tmp_path, mosquitto.url, hq_key[1]), [])
    try:
        sku = runtime.kiosk.catalog.products[0].sku
        runtime.kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=sku))
        # No HQ is listening, so no receipt comes: once the broker has it, the event waits
        # 30 s for its resend...
        assert eventually(lambda: not runtime.outbox.due(resend_after_s=3600), 10)
        assert (runtime.link.stats.published, runtime.link.stats.resent) == (2, 0)  # the visit's start, the view
        runtime.sync_now()  # ...unless staff force a sync
        assert eventually(lambda: runtime.link.stats.resent == 2, 10)
        assert len(runtime.outbox) == 2  # still kept until HQ confirms them
    finally:
        stopped(runtime)


def test_a_kiosk_without_hq_s_model_builds_its_content_model_off_the_screen_s_thread(
    hq_key: tuple[Ed25519PrivateKey, Path], tmp_path: Path,
) -> None:
    import threading

    built_on: list[str] = []

    def dispatch(work: Callable[[], None]) -> None:
        built_on.append(threading.current_thread().name)
        work()

    runtime = KioskRuntime(config(tmp_path, "mqtt://127.0.0.1:9", hq_key[1]), on_outcome=lambda outcome: None,
                           dispatch=dispatch)
    assert runtime.kiosk.recommender is None  # starting the window does not wait for it
    runtime.start()
    try:
        assert eventually(lambda: runtime.kiosk.recommender is not None, 30)
        assert "content-model" in built_on
        sku = runtime.kiosk.catalog.products[0].sku
        assert runtime.kiosk.handle(TagRead(TagKind.PRODUCT, "01", sku=sku)).suggestions
    finally:
        runtime.stop()


def test_a_large_catalog_s_content_model_comes_from_a_child_process_and_suggests_the_same(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, tmp_path: Path,
) -> None:
    from kiosk_app import _models
    from kiosk_app._catalog_features import item_features
    from kiosk_protocol import load_catalog
    from recommender import build_model

    catalog = load_catalog(demo_catalog_path())
    in_process = build_model(item_features(catalog))
    monkeypatch.setattr(_models, "BUILD_ASIDE_FROM", 1)  # the demo catalog counts as large here

    def suggested(model: object) -> list[str]:
        return [s.item_id for s in model.suggest([], "madrid-centro", in_view=(catalog.products[0].sku,), k=4).items]  # type: ignore[attr-defined]

    aside = _models.content_model(catalog, demo_catalog_path())
    assert suggested(aside) == suggested(in_process)
    assert "not built by a child process" not in caplog.text
    fallback = _models.content_model(catalog, tmp_path / "gone.json")  # the child fails: built here instead
    assert suggested(fallback) == suggested(in_process)
    assert "not built by a child process" in caplog.text
    assert "cannot read catalog" in caplog.text  # the child's own reason, not a traceback
