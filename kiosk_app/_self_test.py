"""The self-test tap a release on trial must pass: a product tag of this store, emulated over
nfcpy's ``udp`` driver and read by a reader of its own, through the release's own reading,
catalog and suggestion code, to the product it would show. Nothing is shown or recorded."""

from __future__ import annotations

import queue
import socket
from collections.abc import Callable

from kiosk_app.kiosk import Kiosk, OutcomeKind, TapOutcome
from nfc_reader import TagEmulator, TagRead, TagReader, encode_product_mime

_TAP_TIMEOUT_S = 15.0


def self_test_tap(kiosk: Kiosk, on_kiosk_thread: Callable[[Callable[[], TapOutcome]], TapOutcome]) -> str | None:
    """Tap a product this store sells on an emulated tag; what went wrong, or None.

    ``on_kiosk_thread`` runs the Kiosk's part where the Kiosk's inputs are handled (the screen's thread).
    """
    from kiosk_app.demo import free_port  # the demo runs a kiosk, whose runtime runs this

    product = next((p for p in kiosk.catalog.products if p.sold_in(kiosk.store)), None)
    if product is None:
        return "the catalog sells nothing in this store"
    port = free_port(socket.SOCK_DGRAM)
    reads: queue.Queue[TagRead] = queue.Queue()
    tag = TagEmulator(port)
    reader = TagReader(f"udp:127.0.0.1:{port}", reads.put)
    reader.start()
    try:
        if not tag.tap(encode_product_mime(product.sku), timeout_s=_TAP_TIMEOUT_S):
            return "the emulated tag was not read"
        try:
            read = reads.get(timeout=_TAP_TIMEOUT_S)
        except queue.Empty:
            return "the reader read the emulated tag but handed out nothing"
    finally:
        reader.stop(timeout_s=0)
        tag.close()
    if read.sku != product.sku:
        return f"the tag of {product.sku} was read as {read.kind.value} {read.sku or ''}".rstrip()
    outcome = on_kiosk_thread(lambda: kiosk.try_tap(read))
    if outcome.kind is not OutcomeKind.PRODUCT or outcome.product is None or outcome.product.sku != product.sku:
        return f"the tap of {product.sku} came to {outcome.kind.value} {outcome.reason}".rstrip()
    return None
