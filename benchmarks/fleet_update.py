"""Fleet catalog updates against a real Mosquitto and HQ's file server.

- convergence: 200 kiosk updaters (each with its own MQTT session) hold version N; HQ
  announces N+1 (a 1% change); time until every kiosk reports N+1 in its status;
- bytes moved for a 1% change compared with a full download of a 50,000-product catalog;
- time one kiosk takes to apply that catalog fully and as a delta.

    .venv/bin/python -m benchmarks.fleet_update [--kiosks 200 --products 50000]
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend_sync import CatalogUpdater
from hq import CatalogPublisher, FileServer, announce
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import KioskStatus, LinkState, UpdateRefused, decode_status, kiosk_topics
from kiosk_protocol.contract import manifest_topic
from testkit.mosquitto import Mosquitto

STORES = ("madrid-centro", "barcelona-diagonal")


def synthetic_catalog(directory: Path, products: int, seed: int = 7) -> Path:
    """A catalog of ``products`` products sharing the demo's images."""
    demo = json.loads(demo_catalog_path().read_text())
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "images").mkdir(exist_ok=True)
    for template in demo["products"]:
        image = demo_catalog_path().parent / template["image"]
        (directory / template["image"]).write_bytes(image.read_bytes())
    rng = random.Random(seed)
    items = []
    for n in range(products):
        template = demo["products"][n % len(demo["products"])]
        items.append({**template, "sku": f"SKU-{n:06d}", "price": round(rng.uniform(10, 200), 2),
                      "stock": {store: {size: rng.randint(0, 9) for size in template["sizes"]} for store in STORES}})
    path = directory / "catalog.json"
    path.write_text(json.dumps({**demo, "products": items}, ensure_ascii=False))
    return path


def change_prices(catalog: Path, fraction: float, seed: int) -> int:
    """Reprice a random ``fraction`` of the products; returns how many."""
    data = json.loads(catalog.read_text())
    rng = random.Random(seed)
    chosen = rng.sample(range(len(data["products"])), max(1, int(len(data["products"]) * fraction)))
    for index in chosen:
        data["products"][index]["price"] = round(data["products"][index]["price"] * 0.9, 2)
    catalog.write_text(json.dumps(data, ensure_ascii=False))
    return len(chosen)


def apply_timed(updater: CatalogUpdater, envelope: bytes) -> tuple[float, int]:
    before, started = updater.bytes_downloaded, time.perf_counter()
    updater.apply(envelope)
    return time.perf_counter() - started, updater.bytes_downloaded - before


def single_kiosk(workdir: Path, key: Ed25519PrivateKey, products: int) -> dict[str, Any]:
    catalog = synthetic_catalog(workdir / "big-catalog", products)
    publisher = CatalogPublisher(workdir / "big-bundles", key)
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    try:
        v1 = publisher.publish(catalog)
        changed = change_prices(catalog, 0.01, seed=1)
        v2 = publisher.publish(catalog)
        full_kiosk = CatalogUpdater(workdir / "kiosk-full", key.public_key(), server.url)
        full_s, full_bytes = apply_timed(full_kiosk, v1)
        delta_s, delta_bytes = apply_timed(full_kiosk, v2)
    finally:
        server.stop()
    return {"products": products, "changed_products": changed, "full_apply_s": round(full_s, 2),
            "full_bytes": full_bytes, "delta_apply_s": round(delta_s, 2), "delta_bytes": delta_bytes,
            "delta_over_full": round(delta_bytes / full_bytes, 4)}


class SimulatedKiosk:
    """A kiosk's updater with its own MQTT session, reporting the version it applied."""

    def __init__(self, number: int, broker_port: int, root: Path, key: Ed25519PrivateKey, files_url: str,
                 pool: ThreadPoolExecutor) -> None:
        self.updater = CatalogUpdater(root / f"kiosk-{number:03d}", key.public_key(), files_url)
        self.topics = kiosk_topics("bench-store", f"kiosk-{number:03d}")
        self._pool = pool
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"bench-kiosk-{number:03d}",
                                  protocol=mqtt.MQTTv5)
        self.client.on_connect = lambda client, *_: client.subscribe(manifest_topic("catalog"), qos=1)
        self.client.on_message = lambda client, userdata, message: pool.submit(self._apply, bytes(message.payload))
        self.client.connect("127.0.0.1", broker_port)
        self.client.loop_start()

    def _apply(self, envelope: bytes) -> None:
        try:
            manifest = self.updater.apply(envelope)
        except UpdateRefused:  # recorded by the updater; this kiosk simply does not report the version
            return
        status = KioskStatus(state=LinkState.ONLINE, store="bench-store", kiosk=self.topics.status.split("/")[2],
                             catalog_version=manifest.version, at=datetime.now(UTC))
        self.client.publish(self.topics.status, status.model_dump_json().encode(), qos=1, retain=True)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def fleet_convergence(workdir: Path, key: Ed25519PrivateKey, kiosks: int, products: int) -> dict[str, Any]:
    (workdir / "broker").mkdir()
    broker = Mosquitto(workdir / "broker")
    broker.start()
    catalog = synthetic_catalog(workdir / "fleet-catalog", products)
    publisher = CatalogPublisher(workdir / "fleet-bundles", key)
    server = FileServer(publisher.directory, port=free_port())
    server.start()
    versions: dict[str, int] = {}
    lock = threading.Lock()

    def on_status(client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        status = decode_status(message.payload)
        with lock:
            versions[status.kiosk] = status.catalog_version

    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-fleet-view", protocol=mqtt.MQTTv5)
    watcher.on_message = on_status
    watcher.connect("127.0.0.1", broker.port)
    watcher.subscribe("kiosk/bench-store/+/status", qos=1)
    watcher.loop_start()
    pool = ThreadPoolExecutor(max_workers=16)
    fleet: list[SimulatedKiosk] = []
    try:
        announce(broker.url, publisher.publish(catalog))
        fleet = [SimulatedKiosk(n, broker.port, workdir / "fleet", key, server.url, pool) for n in range(kiosks)]

        def all_at(version: int) -> bool:
            with lock:
                return len(versions) == kiosks and all(v == version for v in versions.values())

        deadline = time.monotonic() + 600
        while not all_at(1) and time.monotonic() < deadline:
            time.sleep(0.05)
        change_prices(catalog, 0.01, seed=2)
        started = time.perf_counter()
        before = sum(k.updater.bytes_downloaded for k in fleet)
        announce(broker.url, publisher.publish(catalog))
        while not all_at(2) and time.monotonic() < deadline:
            time.sleep(0.02)
        converged_s = time.perf_counter() - started
        moved = sum(k.updater.bytes_downloaded for k in fleet) - before
        with lock:
            reported = sum(1 for v in versions.values() if v == 2)
    finally:
        for kiosk in fleet:
            kiosk.close()
        pool.shutdown()
        watcher.loop_stop()
        watcher.disconnect()
        server.stop()
        broker.stop()
    return {"kiosks": kiosks, "products": products, "reported_new_version": reported,
            "converged_s": round(converged_s, 2), "bytes_moved_total": moved}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=200)
    parser.add_argument("--fleet-products", type=int, default=2_000)
    parser.add_argument("--products", type=int, default=50_000)
    parser.add_argument("--json", type=Path, default=Path("benchmarks/results/fleet_update.json"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="fleet-update-"))
    key = Ed25519PrivateKey.generate()
    result = {"single_kiosk": single_kiosk(workdir, key, args.products),
              "fleet": fleet_convergence(workdir, key, args.kiosks, args.fleet_products)}
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
