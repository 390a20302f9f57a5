"""HQ and a kiosk runtime for the live-push tests: HQ's responder, its pusher on the responder's
connection and its API on a socket, on one database; a kiosk runtime reading an emulated tag,
its work on one screen thread (as the window's main thread runs it), and what it told the
screen."""

from __future__ import annotations

import json
import queue
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hq import ApiKeys, ApiServer, ProfilePusher, ProfileResponder, ProfileStore, create_app
from kiosk_app import KioskConfig, KioskRuntime, TapOutcome
from kiosk_app.demo import demo_catalog_path, free_port
from kiosk_protocol import ProfileChange, card_verifier
from nfc_reader import TagEmulator, encode_card
from testkit.waiting import eventually

SHOPPER = "shopper-0042"
STORE, KIOSK = "madrid-centro", "kiosk-01"
WEB_KEY = "web-key-0123456789abcdef"
T = TypeVar("T")


class Hq:
    """HQ on one database: the profile responder, the pusher on its connection, the API on a socket."""

    def __init__(self, broker: str, db_url: str, hq_key: Ed25519PrivateKey) -> None:
        self.store = ProfileStore(db_url)
        self.responder = ProfileResponder(broker, self.store, card_verifier(hq_key.public_key()))
        self.responder.start()
        assert self.responder.subscribed.wait(10)
        self.pusher = ProfilePusher(self.store, self.responder, poll_s=0.02)
        self.pusher.start()
        assert self.pusher.started.wait(10)
        self.api = ApiServer(create_app(self.store, ApiKeys({"web": WEB_KEY}), responder=self.responder),
                             port=free_port())
        self.api.start()

    def call(self, method: str, path: str, body: object | None = None) -> Any:
        """One call to the API as the web shop; returns the answer's JSON."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.api.url}{path}", data=data, method=method,
                                         headers={"X-Api-Key": WEB_KEY, "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.load(answer)

    def dealt_with_everything(self) -> bool:
        """The pusher has dealt with every change in the log."""
        return self.pusher.stats.cursor == self.store.changes.latest()

    def stop(self) -> None:
        self.api.stop()
        self.pusher.stop()
        self.responder.stop()
        self.store.close()


class ScreenThread:
    """One thread the runtime's work runs on in order, as the window's main thread does."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def dispatch(self, work: Callable[[], None]) -> None:
        self._work.put(work)

    def call(self, work: Callable[[], T]) -> T:
        """Run ``work`` there and wait for its result."""
        done, result = threading.Event(), list[T]()

        def run() -> None:
            result.append(work())
            done.set()

        self.dispatch(run)
        assert done.wait(10)
        return result[0]

    def stop(self) -> None:
        self._work.put(None)
        self._thread.join(5)

    def _run(self) -> None:
        while (work := self._work.get()) is not None:
            work()


class Kiosk:
    """A kiosk runtime reading an emulated tag, its work on one screen thread, and what it told the screen."""

    def __init__(self, tmp_path: Path, broker: str, hq_pem: Path, emulator: TagEmulator,
                 idle_timeout_s: float = 60.0) -> None:
        self.outcomes: list[TapOutcome] = []
        self.changes: list[ProfileChange] = []
        self.screen = ScreenThread()
        config = KioskConfig(store=STORE, kiosk=KIOSK, catalog=demo_catalog_path(), reader=emulator.path,
                             broker=broker, data_dir=tmp_path / "kiosk", hq_public_key=hq_pem,
                             idle_timeout_s=idle_timeout_s)
        self.runtime = KioskRuntime(config, on_outcome=self.outcomes.append, dispatch=self.screen.dispatch,
                                    on_profile_change=self.changes.append)
        self.runtime.start()
        self.emulator = emulator
        assert eventually(lambda: self.runtime.link.connected, 10)

    @property
    def visit(self) -> Any:
        return self.runtime.state.visit

    def sign_in(self, hq: Hq, token: str, consent: bool = True) -> None:
        """Tap the shopper's card; wait until HQ knows where they stand and the profile is in."""
        assert self.emulator.tap(encode_card(token))
        assert eventually(lambda: hq.store.presence.stay_of(SHOPPER) is not None and
                          self.visit.changes_seen is not None, 10)
        if consent:
            self.screen.call(lambda: self.runtime.consent(True))

    def stop(self) -> None:
        self.runtime.stop()
        self.screen.stop()
