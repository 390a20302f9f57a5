"""HQ's catalog and model updates taken into one kiosk: ``ContentUpdates``.

Each signed manifest HQ announces goes to the ``UpdateWorker`` of its kind, which downloads
and checks it off the screen's thread. A new catalog (with the offers beside it, and a
content-only model of it while HQ has sent no model) or a new model is then swapped into the
``Kiosk`` on the screen's thread, between taps. The time HQ signed each manifest whose
signature checked is kept (``SignedTime``): offers go by the wall clock only while it is not
behind. Why the latest update is not in use, why the kiosk runs on an older catalog, and why
it runs with no offers are kept for staff mode and HQ's fleet view.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from backend_sync import CatalogUpdater, ModelUpdater
from kiosk_app._clock_trust import SignedTime
from kiosk_app._gc_pauses import no_full_collections, swap_then_release
from kiosk_app._models import content_model
from kiosk_app._offers import offers_beside
from kiosk_app._updates import UpdateWorker
from kiosk_app.kiosk import Kiosk
from kiosk_protocol import Catalog, Manifest, UpdateKind, UpdateRefused
from recommender import Recommender, load_model


class ContentUpdates:
    """Keeps one kiosk's catalog, offers and model up to date with what HQ announces.

    Args:
        kiosk: the Kiosk whose content is swapped, already on the catalog of ``catalog_file``.
        catalog_updater, model_updater: where HQ's versions are downloaded, checked and kept.
        catalog_file: the file of the catalog the kiosk started on (its images are found next to it).
        catalog_fallback: why that is not the newest catalog on disk ("" when it is).
        signed_time: the newest time HQ signed, kept across restarts.
        dispatch: runs work on the screen's thread.
        on_catalog: called on the screen's thread once a new catalog is in use.
        on_problem: called whenever ``problem`` changes (from an update thread).
    """

    def __init__(self, kiosk: Kiosk, catalog_updater: CatalogUpdater, model_updater: ModelUpdater,
                 catalog_file: Path, catalog_fallback: str, signed_time: SignedTime,
                 dispatch: Callable[[Callable[[], None]], None], on_catalog: Callable[[], None],
                 on_problem: Callable[[], None]) -> None:
        self.catalog_updater = catalog_updater
        self.model_updater = model_updater
        self.catalog_file = catalog_file  # of the catalog in use, HQ's newest once applied
        self.catalog_fallback = catalog_fallback
        self.problem = ""  # why HQ's latest update is not in use ("" when it is)
        self.signed_time = signed_time
        self._kiosk = kiosk
        self._dispatch = dispatch
        self._on_catalog = on_catalog
        self._on_problem = on_problem
        kiosk.offers, self.offers_problem = offers_beside(self.catalog_file)
        kiosk.signed_time = signed_time.newest
        self.workers: dict[UpdateKind, UpdateWorker[Any]] = {
            UpdateKind.CATALOG: UpdateWorker(self._apply_catalog, self._use_catalog, self._update_problem),
            UpdateKind.MODEL: UpdateWorker(self._apply_model, self._use_model, self._update_problem),
        }
        self._manifests: dict[UpdateKind, bytes] = {}

    def start(self) -> None:
        """Start the update workers, and a content model of the catalog when the kiosk has no model."""
        if self._kiosk.recommender is None:
            threading.Thread(target=self._build_content_model, name="content-model", daemon=True).start()
        for worker in self.workers.values():
            worker.start()

    def stop(self) -> None:
        """Stop the update workers after the update under way, if any."""
        for worker in self.workers.values():
            worker.stop()

    def take_manifest(self, kind: UpdateKind, envelope: bytes) -> None:
        """HQ announced ``envelope``, a signed manifest of ``kind``: try it (kept to try again on order)."""
        self._manifests[kind] = envelope
        self.workers[kind].offer(envelope)

    def check_again(self) -> None:
        """Try the latest catalog and model HQ announced again (a newer one is taken, the same is not)."""
        for kind, envelope in self._manifests.items():
            self.workers[kind].offer(envelope)

    def _build_content_model(self) -> None:
        """Suggestions from the catalog alone, built where they cannot hold up a frame (seconds at 50k products)."""
        catalog = self._kiosk.catalog
        model = content_model(catalog, self.catalog_file)

        def use() -> None:
            # Not if HQ's model or a newer catalog's own content model came first.
            if self._kiosk.recommender is None and self._kiosk.catalog is catalog:
                self._kiosk.recommender = model

        self._dispatch(use)

    def _verified_apply(self, updater: CatalogUpdater | ModelUpdater, envelope: bytes) -> Manifest:
        """``updater.apply``, keeping the time HQ signed on each manifest whose signature checked: one
        applied, or one refused as made later than the kiosk's clock says (the clock check offers go by)."""
        try:
            manifest = updater.apply(envelope)
        except UpdateRefused as refusal:
            self._note_signed_time(refusal.signed_at)
            raise
        self._note_signed_time(manifest.created_at)
        return manifest

    def _note_signed_time(self, signed_at: datetime | None) -> None:
        if signed_at is not None and self.signed_time.note(signed_at):
            newest = self.signed_time.newest
            self._dispatch(lambda: setattr(self._kiosk, "signed_time", newest))

    def _apply_catalog(self, envelope: bytes) -> tuple[Catalog, Recommender | None]:
        """On the update thread: the new catalog, and a content model of it when HQ sent none."""
        with no_full_collections():
            self._verified_apply(self.catalog_updater, envelope)
            catalog = self.catalog_updater.staged_catalog
            assert catalog is not None and self.catalog_updater.current_catalog is not None
        if self.model_updater.current_model:
            return catalog, None
        return catalog, content_model(catalog, self.catalog_updater.current_catalog)

    def _use_catalog(self, applied: tuple[Catalog, Recommender | None]) -> None:
        catalog, catalog_model = applied
        catalog_file = self.catalog_updater.current_catalog

        def swap() -> None:
            self._kiosk.catalog = catalog  # between taps, on the screen's thread: never half a catalog
            self.catalog_file = catalog_file or self.catalog_file
            self._kiosk.offers, self.offers_problem = offers_beside(self.catalog_file)
            self.catalog_fallback = ""  # HQ's newest is in use again
            if catalog_model is not None:
                self._kiosk.recommender = catalog_model
            self._on_catalog()

        # The old products are freed on this thread, not the screen's.
        swap_then_release(self._dispatch, swap, retired=list(self._kiosk.catalog.products))

    def _apply_model(self, envelope: bytes) -> Recommender:
        self._verified_apply(self.model_updater, envelope)
        assert self.model_updater.current_model is not None
        return load_model(self.model_updater.current_model)

    def _use_model(self, model: Recommender) -> None:
        def swap() -> None:
            self._kiosk.recommender = model

        self._dispatch(swap)

    def _update_problem(self, problem: str) -> None:
        self.problem = problem
        self._on_problem()
