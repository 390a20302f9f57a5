"""HQ for the omnichannel benchmark, in process on one SQLite database: ingest, the profile
responder (signing hand-off links), the pusher, webhook delivery and the API with the phone
pages, all stopped and started again on the same database and port for a restart."""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

from hq import (
    ApiKeys,
    ApiServer,
    CatalogFile,
    DeliveryPolicy,
    HandoffKey,
    HandoffSigner,
    IngestWorker,
    PhonePages,
    ProfilePusher,
    ProfileResponder,
    ProfileStore,
    WebhookDelivery,
    create_app,
)
from kiosk_app.demo import demo_catalog, free_port

KEY = "bench-key-0123456789abcdef"
WEBHOOK_CHANNEL = "app"  # hears the kiosk's, the phone's and web's changes


class Hq:
    """HQ's services; ``restart`` stops them all and starts them again as a restarted HQ would."""

    def __init__(self, broker: str, db_url: str, verify: Any, workdir: Path) -> None:
        self.broker, self.db_url, self.verify = broker, db_url, verify
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.catalog = CatalogFile(demo_catalog(workdir / "hq-catalog", self.url))
        self.handoff_key = HandoffKey.from_file(workdir / "handoff.key")
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.store = ProfileStore(self.db_url)
        self.worker = IngestWorker(self.broker, self.store, verify_card=self.verify)
        self.worker.start()
        signer = HandoffSigner(self.handoff_key, self.url, self.verify)
        self.responder = ProfileResponder(self.broker, self.store, self.verify, handoff=signer)
        self.responder.start()
        assert self.worker.subscribed.wait(10) and self.responder.subscribed.wait(10)
        self.pusher = ProfilePusher(self.store, self.responder)
        self.pusher.start()
        self.delivery = WebhookDelivery(self.store.webhooks, DeliveryPolicy())
        self.delivery.start()
        phone = PhonePages(self.store, self.catalog, self.handoff_key, public_url=self.url)
        self.app = create_app(self.store, ApiKeys({"web": KEY}), responder=self.responder, phone=phone)
        self.api = ApiServer(self.app, port=self.port)
        self.api.start()

    def add_webhook(self, url: str) -> str:
        """Have HQ call ``url`` with every change; its signing secret."""
        return str(self.store.webhooks.add(WEBHOOK_CHANNEL, url).secret)

    def wishlist(self, shopper: str, sku: str, wanted: bool) -> None:
        """The web shop puts the product on the shopper's wishlist, or takes it off."""
        request = urllib.request.Request(f"{self.url}/v1/shoppers/{shopper}/wishlist/{sku}",
                                         method="PUT" if wanted else "DELETE", headers={"X-Api-Key": KEY})
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()

    def restart(self) -> None:
        self.stop()
        self._start()
        self.restarts += 1

    def stop(self) -> None:
        self.app.state.changes.close()  # the open change streams end first
        self.api.stop()
        self.delivery.stop()
        self.pusher.stop()
        self.responder.stop()
        self.worker.stop()
        self.store.close()
