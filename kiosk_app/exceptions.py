"""Errors the kiosk application raises on purpose, one tree under :class:`KioskAppError`.

KioskAppError
 └── PinError   a staff PIN that cannot be set (not 4 to 8 digits), or a PIN file that cannot be read

The parts the kiosk wires together raise their own: ``nfc_reader.exceptions``,
``recommender.exceptions``, ``backend_sync.exceptions`` and ``kiosk_protocol.exceptions``.
"""

from __future__ import annotations


class KioskAppError(Exception):
    """Base of every error the kiosk application raises on purpose."""


class PinError(KioskAppError):
    """A PIN that cannot be set (not 4 to 8 digits) or a PIN file that cannot be read."""
