"""One-tag operations for staff: show what a tag holds, and write a product tag.

``inspect_tag`` and ``write_tag`` open the reader by path (the same paths as
``TagReader``), wait for one tag, do their work and release the reader. The write itself
is ``write_to_tag``, on a tag already activated: ``write_tag`` and ``TagReader.write_next``
both use it. It refuses tags that cannot take the message (not NDEF formatted, read-only,
too small) before touching them, and confirms a write by reading the tag back. What
the reader loop shares with these tools lives here too (``identify_by_uid``, ``uid_of_target``).
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
from nfc_reader._tagread import TagKind, TagRead, TagSource
from nfc_reader._uidtable import UidTable
from nfc_reader.exceptions import NoTagPresented, TagDecodeError, TagWriteError, UidTableError, WriteRefusal

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
    """A confirmed write: what was written, and what reading the tag back gave.

    ``read_back`` is the TagRead a tap makes of the tag now, decoded from what was read back.
    """

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


def identify_by_uid(uid: str, read: TagRead | None, uid_table: UidTable | None) -> TagRead:
    """``read`` if it says what the tag is, else what the UID table says, else unreadable.

    ``read`` is None for a tag without NDEF. Cards and badges never come from the table.
    """
    if read is not None and read.kind is not TagKind.UNREADABLE:
        return read
    if uid_table is not None:
        try:
            sku = uid_table.lookup(uid)
        except UidTableError as exc:
            return TagRead.unreadable(uid, str(exc))
        if sku is not None:
            return TagRead(TagKind.PRODUCT, uid, sku=sku, source=TagSource.UID_TABLE)
    if read is not None:
        return read
    if uid_table is None:
        return TagRead.unreadable(uid, "tag holds no NDEF data")
    return TagRead.unreadable(uid, f"tag holds no NDEF data and its UID {uid} is not in the tag table")


def uid_of_target(target: nfc.clf.RemoteTarget) -> str:
    """The UID a polled target announced, for tags nfcpy cannot activate."""
    if target.sensf_res:
        uid = bytes(target.sensf_res[1:9])
    elif target.sdd_res:
        uid = bytes(target.sdd_res)
    elif target.sensb_res:
        uid = bytes(target.sensb_res[1:5])
    else:
        uid = b""
    return uid.hex().upper()


def no_tag_within(timeout_s: float) -> NoTagPresented:
    """The error for a wait that saw no tag, worded the same wherever staff wait."""
    return NoTagPresented(f"no tag was held to the reader within {timeout_s:g} s")


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
                raise no_tag_within(timeout_s)
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
        TagWriteError: see ``write_to_tag``.
    """
    with _one_tag(path, timeout_s) as found:
        return write_to_tag(found.tag, found.uid, message)


def write_to_tag(tag: nfc.tag.Tag | None, uid: str, message: bytes, uid_table: UidTable | None = None) -> WriteResult:
    """Write ``message`` to an activated tag and read it back.

    ``tag`` is None for a tag nfcpy could not activate (known by ``uid`` only). The
    result's ``read_back`` is what a tap makes of the tag now (``uid_table`` as a tap uses it).

    Raises:
        TagWriteError: the tag cannot take the message (``refusal`` says why: not NDEF
            formatted, read-only, too small; checked before anything is written), left
            during the write, or did not read back what was written.
    """
    if tag is None:
        raise TagWriteError(f"tag {uid} is of a kind nfcpy cannot write", WriteRefusal.NOT_NDEF)
    tag_ndef = _writable_ndef(tag, uid, message)
    _write_and_verify(tag, tag_ndef, uid, message)
    read_back = identify_by_uid(uid, decode_tag(uid, bytes(tag.ndef.octets)), uid_table)
    log.info("wrote %d bytes to tag %s and read them back", len(message), uid)
    return WriteResult(uid, str(tag), len(message), tag_ndef.capacity, read_back)


def _writable_ndef(tag: nfc.tag.Tag, uid: str, message: bytes) -> nfc.tag.Tag.NDEF:
    """The tag's NDEF area, if it can take ``message``; else the refusal, nothing written."""
    tag_ndef = _read_ndef(tag)
    if tag_ndef is None:
        if not tag.is_present:
            raise TagWriteError("the tag left before it could be read; hold it still", WriteRefusal.LOST)
        raise TagWriteError(f"tag {uid} is not NDEF formatted; format it with the tag vendor's tool first",
                            WriteRefusal.NOT_NDEF)
    if not tag_ndef.is_writeable:
        raise TagWriteError(f"tag {uid} is read-only; use another tag", WriteRefusal.READ_ONLY)
    if len(message) > tag_ndef.capacity:
        raise TagWriteError(f"tag {uid} is too small: the record needs {len(message)} bytes, the tag holds "
                            f"{tag_ndef.capacity}", WriteRefusal.TOO_SMALL)
    return tag_ndef


def _write_and_verify(tag: nfc.tag.Tag, tag_ndef: nfc.tag.Tag.NDEF, uid: str, message: bytes) -> None:
    try:
        tag_ndef.octets = message
        # nfcpy reads the tag again and compares it with what was just written.
        changed = tag_ndef.has_changed
    except AttributeError as exc:  # nfcpy's own check: the NDEF area is not writeable
        raise TagWriteError(f"tag {uid} is read-only; use another tag", WriteRefusal.READ_ONLY) from exc
    except ValueError as exc:  # nfcpy's own check: the message exceeds the capacity
        raise TagWriteError(f"tag {uid} is too small: {exc}", WriteRefusal.TOO_SMALL) from exc
    except (nfc.tag.TagCommandError, nfc.clf.CommunicationError, TypeError) as exc:
        # (nfcpy's Type 3 writer trips with a TypeError when the tag stops answering midway.)
        log.info("write to tag %s failed: %r", uid, exc)
        raise TagWriteError("the tag left or stopped answering during the write; it may hold a partial "
                            "record now: hold it still and write again", WriteRefusal.LOST) from exc
    if changed or tag.ndef is None:
        if not tag.is_present:
            raise TagWriteError("the tag left before it could be read back; hold it to the reader again to check "
                                "what it holds", WriteRefusal.LOST)
        raise TagWriteError("reading the tag back did not give what was written; write it again",
                            WriteRefusal.VERIFY_FAILED)
