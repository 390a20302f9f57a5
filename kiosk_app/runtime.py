"""The kiosk's parts wired together: reader -> Kiosk -> outbox -> MQTT link.

The same runtime serves the Kivy window and the headless demo; the window passes a
``dispatch`` that moves each tap onto its main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from backend_sync import KioskFacts, KioskLink, Outbox, load_catalog
from kiosk_app.kiosk import Kiosk, TapOutcome
from nfc_reader import ReaderState, ReaderStatus, Role, TagRead, TagReader, public_key_from_pem, verify_token

log = logging.getLogger(__name__)

Dispatch = Callable[[Callable[[], None]], None]

try:
    _APP_VERSION = metadata.version("nfc-kiosk")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    _APP_VERSION = "unknown"


@dataclass(frozen=True)
class KioskConfig:
    """Everything one kiosk needs to know to start."""

    store: str
    kiosk: str
    catalog: Path
    reader: str
    broker: str
    data_dir: Path
    hq_public_key: Path


class KioskRuntime:
    """Starts and stops one kiosk's reader, outbox and link around a Kiosk."""

    def __init__(
        self,
        config: KioskConfig,
        on_outcome: Callable[[TapOutcome], None],
        dispatch: Dispatch = lambda work: work(),
        on_reader_status: Callable[[ReaderStatus], None] | None = None,
    ) -> None:
        config.data_dir.mkdir(parents=True, exist_ok=True)
        hq_key = public_key_from_pem(config.hq_public_key.read_bytes())
        self.outbox = Outbox(config.data_dir / "outbox.sqlite")
        self.kiosk = Kiosk(
            load_catalog(config.catalog),
            self.outbox,
            config.store,
            config.kiosk,
            verify_card=lambda token: verify_token(hq_key, token, Role.SHOPPER).subject,
        )
        self.reader_status = ReaderStatus(ReaderState.OFFLINE, config.reader, "starting")
        self.link = KioskLink(config.broker, config.store, config.kiosk, self.outbox, facts=self._facts)
        self.reader = TagReader(config.reader, self._on_read, self._on_reader_status)
        self._on_outcome = on_outcome
        self._dispatch = dispatch
        self._forward_reader_status = on_reader_status or (lambda status: None)

    def start(self) -> None:
        """Start the link and the reader."""
        self.link.start()
        self.reader.start()

    def stop(self) -> None:
        """Stop reading, then stop the link; unsent events stay in the outbox."""
        self.reader.stop()
        self.link.stop()
        self.outbox.close()

    def _on_read(self, read: TagRead) -> None:
        self._dispatch(lambda: self._on_outcome(self.kiosk.handle(read)))

    def _on_reader_status(self, status: ReaderStatus) -> None:
        self.reader_status = status
        if self.link.connected:
            self.link.publish_status()  # the fleet view hears of a lost reader at once
        self._forward_reader_status(status)

    def _facts(self) -> KioskFacts:
        return KioskFacts(app_version=_APP_VERSION, catalog_version=self.kiosk.catalog.catalog_version,
                          reader=self.reader_status.state.value)
