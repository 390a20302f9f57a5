"""A reservation as HQ answers a kiosk with it, for the tests of the kiosk's requests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from kiosk_protocol import Reservation, ReservationKind, ReservationState

BOOT = "BOOT-CHELSEA-BLK"
NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


def reservation(state: ReservationState = ReservationState.HELD, note: str | None = None,
                reservation_id: uuid.UUID | None = None) -> Reservation:
    """A fitting-room hold of the boot in size 40, held for 20 minutes from ``NOW``."""
    return Reservation(reservation_id=reservation_id or uuid.uuid4(), sku=BOOT, size="40",
                       kind=ReservationKind.FITTING_ROOM, state=state, expires_at=NOW + timedelta(minutes=20),
                       note=note)
