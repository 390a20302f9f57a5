"""One-tag operations for staff: show what a tag holds, and write a product tag.

Both open the reader by path (the same paths as ``TagReader``), wait for one tag, do
their work and release the reader. The writer refuses tags that cannot take the
message (not NDEF formatted, read-only, too small) before touching them, and confirms a
write by reading the tag back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import ndef
import nfc
import nfc.clf
import nfc.tag

from nfc_reader._device import classify_lost_error, is_udp, open_frontend, targets_for
from nfc_reader._ndef import decode_tag, parse_message, printable_text
from nfc_reader._reader import identify_by_uid, uid_of_target
from nfc_reader._tagread import TagRead
from nfc_reader._uidtable import UidTable
from nfc_reader.exceptions import NoTagPresented, TagDecodeError, TagWriteError, WriteRefusal

log = logging.getLogger(__name__)

_NDEF_READ_ATTEMPTS = 3
_HARDWARE_POLL_S = 0.1


@dataclass(frozen=True)
class TagReport:
    """What a tag holds, as staff see it.

    ``ndef_length``, ``capacity`` and ``writeable`` are None for a tag without NDEF.
    ``records`` has one printable line per NDEF record; ``read`` is what a tap on a
    kiosk makes of the tag.
    """

    uid: str
    tag_type: str
    reader: str
    ndef_length: int | None
    capacity: int | None
    writeable: bool | None
    records: tuple[str, ...]
    read: TagRead


@dataclass(frozen=True)
class WriteResult:
    """A confirmed write: what was written, and what reading the tag back gave."""

    uid: str
    tag_type: str
    bytes_written: int
    capacity: int
    read_back: TagRead


@dataclass(frozen=True)
class _Found:
    tag: nfc.tag.Tag | None
    uid: str
    reader: str


@contextlib.contextmanager
def _one_tag(path: str | None, timeout_s: float) -> Iterator[_Found]:
    """Open the reader, wait up to ``timeout_s`` for a tag, yield it, release the reader.

    Raises:
        ReaderUnavailable: no reader at ``path``, or it failed.
        NoTagPresented: no tag within ``timeout_s``.
    """
    clf, opened = open_frontend(path)
    try:
        targets = [nfc.clf.RemoteTarget(brty) for brty in targets_for(opened)]
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                target = clf.sense(*targets, iterations=1)
            except (OSError, nfc.clf.Error) as exc:
                raise classify_lost_error(opened, exc) from exc
            tag = _activate(clf, target) if target is not None else None
            if target is not None:
                uid = bytes(tag.identifier).hex().upper() if tag is not None else uid_of_target(target)
                yield _Found(tag, uid, str(clf))
                return
            if time.monotonic() >= deadline:
                raise NoTagPresented(f"no tag was held to the reader within {timeout_s:g} s")
            if not is_udp(opened):
                time.sleep(_HARDWARE_POLL_S)
    finally:
        clf.close()


def _activate(clf: nfc.ContactlessFrontend, target: nfc.clf.RemoteTarget) -> nfc.tag.Tag | None:
    try:
        return nfc.tag.activate(clf, target)
    except OSError:
        raise
    except Exception:  # a tag that trips nfcpy is still known by its UID
        log.warning("tag %s could not be activated", uid_of_target(target), exc_info=True)
        return None


def _read_ndef(tag: nfc.tag.Tag) -> nfc.tag.Tag.NDEF | None:
    for _ in range(_NDEF_READ_ATTEMPTS):
        found = tag.ndef  # nfcpy keeps only a successful read, so this reads again
        if found is not None:
            return found
        if not tag.is_present:
            break
    return None


def inspect_tag(path: str | None, timeout_s: float = 10.0, uid_table: UidTable | None = None) -> TagReport:
    """Wait for a tag on the reader at ``path`` and report what it holds.

    Raises:
        ReaderUnavailable: no usable reader at ``path``.
        NoTagPresented: no tag within ``timeout_s``.
    """
    with _one_tag(path, timeout_s) as found:
        tag_type = str(found.tag) if found.tag is not None else "a tag nfcpy cannot read"
        tag_ndef = _read_ndef(found.tag) if found.tag is not None else None
        if tag_ndef is None:
            read = identify_by_uid(found.uid, None, uid_table)
            return TagReport(found.uid, tag_type, found.reader, None, None, None, (), read)
        octets = bytes(tag_ndef.octets)
        read = identify_by_uid(found.uid, decode_tag(found.uid, octets), uid_table)
        return TagReport(found.uid, tag_type, found.reader, len(octets), tag_ndef.capacity,
                         tag_ndef.is_writeable, describe_records(octets), read)


def describe_records(message: bytes) -> tuple[str, ...]:
    """One printable line per NDEF record of ``message``; never raises."""
    try:
        records = parse_message(message)
    except TagDecodeError as exc:
        return (str(exc),)
    return tuple(_describe(record) for record in records)


def _describe(record: ndef.Record) -> str:
    if isinstance(record, ndef.SmartposterRecord):
        title = f" title {printable_text(record.title)!r}" if record.title else ""
        address = printable_text(record.resource.iri) if record.resource is not None else "(no address)"
        return f"Smart Poster: {address}{title}"
    if isinstance(record, ndef.UriRecord):
        return f"URI: {printable_text(record.iri)}"
    if isinstance(record, ndef.TextRecord):
        return f"Text ({printable_text(record.language)}): {printable_text(record.text)!r}"
    data = bytes(record.data)
    try:
        shown = repr(printable_text(data.decode("utf-8")))
    except UnicodeDecodeError:
        shown = f"{len(data)} bytes"
    return f"{printable_text(record.type) or 'empty record'}: {shown}"


def write_tag(path: str | None, message: bytes, timeout_s: float = 10.0) -> WriteResult:
    """Wait for a tag on the reader at ``path``, write ``message`` to it and read it back.

    Raises:
        ReaderUnavailable: no usable reader at ``path``.
        NoTagPresented: no tag within ``timeout_s``.
        TagWriteError: the tag cannot take the message (``refusal`` says why: not NDEF
            formatted, read-only, too small; checked before anything is written), left
            during the write, or did not read back what was written.
    """
    with _one_tag(path, timeout_s) as found:
        tag = found.tag
        if tag is None:
            raise TagWriteError(f"tag {found.uid} is of a kind nfcpy cannot write", WriteRefusal.NOT_NDEF)
        tag_ndef = _read_ndef(tag)
        if tag_ndef is None:
            if not tag.is_present:
                raise TagWriteError("the tag left before it could be read; hold it still", WriteRefusal.LOST)
            raise TagWriteError(f"tag {found.uid} is not NDEF formatted; format it with the tag vendor's tool "
                                "first", WriteRefusal.NOT_NDEF)
        if not tag_ndef.is_writeable:
            raise TagWriteError(f"tag {found.uid} is read-only; use another tag", WriteRefusal.READ_ONLY)
        if len(message) > tag_ndef.capacity:
            raise TagWriteError(f"tag {found.uid} is too small: the record needs {len(message)} bytes, the tag "
                                f"holds {tag_ndef.capacity}", WriteRefusal.TOO_SMALL)
        try:
            tag_ndef.octets = message
            # nfcpy reads the tag again and compares it with what was just written.
            changed = tag_ndef.has_changed
        except AttributeError as exc:  # nfcpy's own check: the NDEF area is not writeable
            raise TagWriteError(f"tag {found.uid} is read-only; use another tag", WriteRefusal.READ_ONLY) from exc
        except ValueError as exc:  # nfcpy's own check: the message exceeds the capacity
            raise TagWriteError(f"tag {found.uid} is too small: {exc}", WriteRefusal.TOO_SMALL) from exc
        except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, TypeError) as exc:
            # (nfcpy's Type 3 writer trips with a TypeError when the tag stops answering midway.)
            log.info("write to tag %s failed: %r", found.uid, exc)
            raise TagWriteError("the tag left or stopped answering during the write; it may hold a partial "
                                "record now: hold it still and write again", WriteRefusal.LOST) from exc
        if changed or tag.ndef is None:
            if not tag.is_present:
                raise TagWriteError("the tag left before it could be read back; hold it to the reader again and "
                                    "check it with `kiosk nfc read`", WriteRefusal.LOST)
            raise TagWriteError("reading the tag back did not give what was written; write it again",
                                WriteRefusal.VERIFY_FAILED)
        read_back = decode_tag(found.uid, bytes(tag.ndef.octets))
        log.info("wrote %d bytes to tag %s and read them back", len(message), found.uid)
        return WriteResult(found.uid, str(tag), len(message), tag_ndef.capacity, read_back)
