"""The staff console: the health of every part, the store's open requests (oldest first, with
how long each has waited), check and write tags, sync now, lock, leave."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any

from kiosk_app.controls import KioskControls
from kiosk_app.session import Mode
from kiosk_app.ui.host import Host, on_main_thread
from kiosk_app.ui.present import checked_tag_text, health_rows
from kiosk_app.ui.present_reservations import MAX_STAFF_ROWS, MAX_STAFF_ROWS_LARGE, open_request_rows
from nfc_reader import NfcReaderError, TagRead, WriteResult

WRITE_TIMEOUT_S = 30.0


class StaffConsole:
    """What staff mode shows and does; what it last did stays on screen until staff leave."""

    def __init__(self, controls: KioskControls, host: Host) -> None:
        self._controls = controls
        self._host = host
        self._checked: TagRead | None = None
        # The last action's message: a text id and its fields.
        self._status: tuple[str, dict[str, Any]] | None = None

    def open(self) -> None:
        """Staff came in: a clean console."""
        self._checked, self._status = None, None
        self.render()

    def show_checked(self, read: TagRead) -> None:
        """Say what the tag staff just held to the reader holds."""
        self._checked = read
        self.render()

    def force_sync(self) -> None:
        """Send what HQ has not confirmed yet, now."""
        self._host.note_activity()
        self._controls.sync_now()
        self._status = ("staff_sync_started", {"count": self._controls.backlog})
        self.render()

    def toggle_lock(self) -> None:
        """Lock the kiosk (out of service when staff leave) or unlock it."""
        self._host.note_activity()
        if self._controls.state.lock_reason:
            self._controls.unlock()
        else:
            self._controls.lock("staff")
        self.render()

    def leave(self) -> None:
        """Close staff mode (back to shoppers, or out of service while locked)."""
        self._controls.leave_staff()

    def write_tag(self, sku: str) -> None:
        """Write a product tag for ``sku`` on the next tag held to the reader, then read it back."""
        self._host.note_activity()
        sku = sku.strip().upper()
        if self._controls.catalog.product(sku) is None:
            self._status = ("staff_unknown_sku", {"sku": sku})
            self.render()
            return
        try:
            future = self._controls.write_product_tag(sku, WRITE_TIMEOUT_S)
        except NfcReaderError as exc:
            self._status = ("staff_write_failed", {"reason": str(exc)})
            self.render()
            return
        self._status = ("staff_write_waiting", {})
        self._host.sm.get_screen("staff").writing = True
        self.render()
        # The reader's thread settles the future; the screen hears of it on its own thread.
        future.add_done_callback(lambda done: on_main_thread(lambda: self._write_done(sku, done)))

    def render(self) -> None:
        """The console again, in the window's language."""
        screen, tx, state = self._host.sm.get_screen("staff"), self._host.tx, self._controls.state
        screen.member_text = (tx["staff_member"].format(member=state.staff_member) if state.staff_member
                              else tx["staff_member_pin"] if state.mode is Mode.STAFF else "")
        screen.locked = state.lock_reason is not None
        screen.checked_text = (checked_tag_text(self._checked, self._controls.catalog, self._host.language)
                               if self._checked else "")
        key, fields = self._status or ("", {})
        screen.write_text = tx[key].format(**fields) if key else ""
        self.render_health()

    def render_health(self) -> None:
        """Refresh the health table and the open requests (every second while staff mode shows)."""
        self._host.sm.get_screen("staff").show_health(health_rows(self._controls.health(), self._host.language))
        self.render_requests()

    def render_requests(self) -> None:
        """The store's open requests as HQ lists them now, with how long each has waited."""
        controls, tx = self._controls, self._host.tx
        limit = MAX_STAFF_ROWS if self._host.text_scale == 1 else MAX_STAFF_ROWS_LARGE
        rows, more = open_request_rows(controls.open_requests, controls.catalog, self._host.language,
                                       datetime.now(UTC), limit)
        self._host.sm.get_screen("staff").show_requests(rows, tx["staff_requests_more"].format(count=more)
                                                        if more else "")

    def _write_done(self, sku: str, done: Future[WriteResult]) -> None:
        self._host.sm.get_screen("staff").writing = False
        if done.cancelled():
            self._status = None
        elif (error := done.exception()) is not None:
            self._status = ("staff_write_failed", {"reason": str(error)})
        else:
            self._status = ("staff_write_done", {"sku": sku, "uid": done.result().uid})
        self.render()
