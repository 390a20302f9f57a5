"""Opening a reader by nfcpy path, and saying clearly why it cannot be opened.

nfcpy picks its driver from the path (``usb``, ``usb:072f:2200``, ``usb:001:004``,
``tty:USB0:pn532``, ``udp:host:port``). With no path (or ``auto``) the kiosk tries the
paths in ``AUTO_PATHS`` in order. nfcpy itself quietly skips USB readers it may not open
when the path is partial (``usb``), so on failure this module looks again itself to
tell "nothing plugged in" from "plugged in but not allowed" or "held by someone else".
"""

from __future__ import annotations

import errno
import logging
import os
import socket
from pathlib import Path

import nfc
import nfc.clf
import nfc.clf.device
import nfc.clf.transport

from nfc_reader.exceptions import ReaderProblem, ReaderUnavailable

log = logging.getLogger(__name__)

AUTO = "auto"
# USB readers first (every one nfcpy drives), then a PN532 on a USB-serial adapter or a
# Raspberry Pi's UART. Probing a serial port sends PN532 wake-up bytes to it, so kiosks
# with other serial devices should name their reader's path instead of relying on this.
AUTO_PATHS = ("usb", "tty:USB:pn532", "tty:AMA:pn532")

# Names people know the readers by; nfcpy's own table maps the same ids to drivers.
USB_READER_NAMES = {
    (0x072F, 0x2200): "ACS ACR122U",
    (0x054C, 0x06C1): "Sony RC-S380",
    (0x054C, 0x06C3): "Sony RC-S380",
    (0x054C, 0x02E1): "Sony RC-S330/360/370",
    (0x04CC, 0x2533): "NXP PN533",
    (0x04E6, 0x5591): "SCM SCL3711",
    (0x04E6, 0x5593): "SCM SCL3712",
    (0x054C, 0x0193): "Sony PN531",
    (0x04CC, 0x0531): "Philips PN531",
}
_KERNEL_NFC_MODULES = ("pn533_usb", "pn533", "nfc")
_UNPLUGGED_ERRNOS = {errno.ENODEV, errno.EIO, errno.ENXIO, errno.EPIPE, errno.ESHUTDOWN, errno.ENOENT}


class _ReportedByUs(logging.Filter):
    """Drop nfcpy's error line for a path with no reader: the reader status says it (with a
    hint), and a kiosk retrying every few seconds would otherwise fill its log with it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("no reader available on path")


logging.getLogger("nfc.clf").addFilter(_ReportedByUs())


def is_auto(path: str | None) -> bool:
    """True when ``path`` asks for auto-detection."""
    return path is None or path.strip() in ("", AUTO)


def is_udp(path: str) -> bool:
    """True for nfcpy's simulated (udp) frontend."""
    return path.startswith("udp")


def targets_for(path: str) -> tuple[str, ...]:
    """The technologies to poll on ``path``.

    Over udp only the emulated Type 3 (212F) answers, and every technology polled with
    nothing there costs the udp driver a fixed second.
    """
    return ("212F",) if is_udp(path) else ("106A", "106B", "212F")


def open_frontend(path: str | None) -> tuple[nfc.ContactlessFrontend, str]:
    """Open the reader at ``path``, or the first one found when ``path`` is None or ``auto``.

    Returns:
        The open nfcpy frontend and the path it was opened with.

    Raises:
        ReaderUnavailable: no reader could be opened; ``problem`` and ``hint`` say why.
    """
    candidates = AUTO_PATHS if is_auto(path) else (str(path).strip(),)
    problems: list[ReaderUnavailable] = []
    for candidate in candidates:
        try:
            return _open_one(candidate), candidate
        except ReaderUnavailable as exc:
            log.debug("reader at %s: %s", candidate, exc)
            problems.append(exc)
    # Say the most useful thing: "not allowed" or "busy" beats "not there".
    for problem in (ReaderProblem.PERMISSION, ReaderProblem.BUSY, ReaderProblem.BAD_PATH, ReaderProblem.FAILED):
        for unavailable in problems:
            if unavailable.problem is problem:
                raise unavailable
    if is_auto(path):
        raise ReaderUnavailable(
            f"no NFC reader found (tried {', '.join(candidates)})", ReaderProblem.NOT_FOUND,
            "plug in a supported reader (ACR122U, RC-S380, PN533) or set the reader path explicitly",
        )
    raise problems[0]


def _open_one(path: str, diagnose: bool = True) -> nfc.ContactlessFrontend:
    clf = nfc.ContactlessFrontend()
    try:
        opened = clf.open(path)
    except OSError as exc:
        raise classify_open_error(path, exc) from exc
    except (ValueError, TypeError, OverflowError, ImportError) as exc:
        raise ReaderUnavailable(f"{path!r} is not a reader path nfcpy understands: {exc}",
                                ReaderProblem.BAD_PATH, "see docs/readers.md for device paths") from exc
    if opened:
        return clf
    if diagnose and path.startswith("usb"):
        return _diagnose_usb(path)
    raise ReaderUnavailable(f"no reader found at {path!r}", ReaderProblem.NOT_FOUND, _not_found_hint(path))


def _diagnose_usb(path: str) -> nfc.ContactlessFrontend:
    """nfcpy found nothing it could open at a partial USB path: is a known reader there anyway?"""
    try:
        found = nfc.clf.transport.USB.find(path) or []
    except Exception as exc:  # libusb trouble must not hide the real answer: nothing opened
        log.debug("cannot list USB devices: %s", exc)
        found = []
    for vid, pid, bus, dev in found:
        if (vid, pid) not in nfc.clf.device.usb_device_map:
            continue
        name = USB_READER_NAMES.get((vid, pid), f"USB reader {vid:04x}:{pid:04x}")
        exact = f"usb:{bus:03d}:{dev:03d}"
        devnode = f"/dev/bus/usb/{bus:03d}/{dev:03d}"
        if not os.access(devnode, os.R_OK | os.W_OK):
            raise ReaderUnavailable(f"{name} found at {exact}, but this user may not open {devnode}",
                                    ReaderProblem.PERMISSION, usb_permission_hint(vid, pid))
        # A fully qualified path makes nfcpy raise the real error instead of skipping.
        return _open_one(exact, diagnose=False)
    raise ReaderUnavailable(f"no reader found at {path!r}", ReaderProblem.NOT_FOUND, _not_found_hint(path))


def classify_open_error(path: str, exc: OSError) -> ReaderUnavailable:
    """Turn an OSError from opening ``path`` into a ReaderUnavailable with a hint."""
    code = exc.errno
    detail = exc.strerror or str(exc) or type(exc).__name__
    if isinstance(exc, socket.gaierror):
        return ReaderUnavailable(f"cannot resolve the host in {path!r}: {detail}", ReaderProblem.NOT_FOUND,
                                 "check the host name in the udp:HOST:PORT path")
    if code in (errno.EACCES, errno.EPERM):
        hint = usb_permission_hint() if path.startswith("usb") else (
            serial_permission_hint() if path.startswith("tty") else "")
        return ReaderUnavailable(f"no permission to open the reader at {path!r}", ReaderProblem.PERMISSION, hint)
    if code == errno.EBUSY:
        return ReaderUnavailable(f"the reader at {path!r} is in use", ReaderProblem.BUSY, busy_hint(path))
    if code == errno.ETIMEDOUT and path.startswith("tty"):
        return ReaderUnavailable(f"nothing answered as an NFC reader at {path!r}", ReaderProblem.NOT_FOUND,
                                 "check the serial port, the wiring and that the PN532 is set to UART (HSU) mode")
    if code in (errno.ENODEV, errno.ENOENT, errno.ENXIO):
        return ReaderUnavailable(f"no reader found at {path!r}", ReaderProblem.NOT_FOUND, _not_found_hint(path))
    return ReaderUnavailable(f"cannot open the reader at {path!r}: {detail}", ReaderProblem.FAILED)


def classify_lost_error(path: str, exc: BaseException) -> ReaderUnavailable:
    """Turn an error raised while reading from an open reader into a ReaderUnavailable."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code in _UNPLUGGED_ERRNOS:
        return ReaderUnavailable(f"the reader at {path!r} stopped answering (unplugged?)", ReaderProblem.UNPLUGGED,
                                 "check the reader's cable; the kiosk reconnects by itself")
    return ReaderUnavailable(f"the reader at {path!r} failed: {exc}", ReaderProblem.FAILED)


def usb_permission_hint(vid: int | None = None, pid: int | None = None) -> str:
    """What to do when a USB reader is there but the kiosk user may not open it."""
    match = (f'ATTRS{{idVendor}}=="{vid:04x}", ATTRS{{idProduct}}=="{pid:04x}", '
             if vid is not None and pid is not None else "")
    return ("give the kiosk user access with a udev rule, e.g. /etc/udev/rules.d/60-nfc-kiosk.rules: "
            f'SUBSYSTEM=="usb", {match}MODE="0660", GROUP="plugdev"; add the user to plugdev, '
            "run `udevadm control --reload && udevadm trigger` and replug the reader (docs/readers.md)")


def serial_permission_hint() -> str:
    """What to do when a serial reader's port may not be opened."""
    return "add the kiosk user to the dialout group (`usermod -aG dialout USER`) and log in again (docs/readers.md)"


def busy_hint(path: str) -> str:
    """What usually holds a reader, and how to free it."""
    loaded = [name for name in _KERNEL_NFC_MODULES if Path("/sys/module", name).exists()]
    if path.startswith("usb"):
        modules = ("the kernel's NFC drivers are loaded (" + ", ".join(loaded) + "): "
                   if loaded else "the kernel's NFC drivers may hold it: ")
        return (modules + "`modprobe -r pn533_usb pn533 nfc` and blacklist them; also stop pcscd if it runs, "
                "and any other program using the reader (docs/readers.md)")
    return "close the other program using the reader"


def _not_found_hint(path: str) -> str:
    if path.startswith("usb"):
        return "plug in a supported reader; `lsusb` should list it (docs/readers.md)"
    if path.startswith("tty"):
        return "check the serial port name (tty:USB0:pn532 means /dev/ttyUSB0) and the cable"
    return "see docs/readers.md for device paths"
