"""``kiosk nfc``: NFC tag tools for staff and for the demo.

Staff: ``read`` shows what a tag holds, ``write`` writes a product tag or a sign (an
offer's tag) and confirms it, ``uid`` maintains the table of tags without NDEF. Demo and
tests: ``emulate`` presents one simulated tag over nfcpy's udp driver, ``simulator`` opens
the tap panel.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import click

from nfc_reader import (
    AUTO,
    NoTagPresented,
    ReaderUnavailable,
    TagKind,
    TagRead,
    TagWriteError,
    UidTable,
    UidTableError,
    describe_records,
    encode_badge,
    encode_card,
    encode_offer,
    encode_offer_mime,
    encode_offer_smart_poster,
    encode_offer_text,
    encode_product,
    encode_product_mime,
    encode_product_smart_poster,
    encode_product_text,
    normalize_uid,
    validate_offer_id,
    validate_sku,
)

DEFAULT_SHOP_URL = "https://shop.example.com"
FORMS = ("uri", "smart-poster", "text", "mime")
_DEVICE_HELP = "Reader path: usb, usb:VID:PID, tty:USB0:pn532, udp:HOST:PORT, or auto."
T = TypeVar("T")


@click.group()
def nfc() -> None:
    """NFC tag tools."""


@nfc.command()
@click.option("--device", default="udp:127.0.0.1:54321", show_default=True, help="udp:HOST:PORT to serve on.")
@click.option("--sku", help="Emulate a product tag.")
@click.option("--offer", "offer_id", help="Emulate a sign: the tag of this offer.")
@click.option("--card", help="Emulate a loyalty card with this signed token.")
@click.option("--staff", help="Emulate a staff badge with this signed token.")
@click.option("--blank", is_flag=True, help="Emulate a blank (formatted, empty) tag, e.g. to try `kiosk nfc write`.")
@click.option("--uid", "uid_hex", help="The tag's UID (16 hex digits); alone: a tag without NDEF, known by UID only.")
@click.option("--form", type=click.Choice(FORMS), default="uri", show_default=True,
              help="How a product tag or sign says it.")
@click.option("--title", help="Title of a smart-poster tag.")
@click.option("--shop-url", default=DEFAULT_SHOP_URL, show_default=True)
@click.option("--read-only", is_flag=True, help="The tag refuses writes.")
@click.option("--capacity", default=1024, show_default=True, type=click.IntRange(16, 65536),
              help="Size of the tag's NDEF area in bytes.")
@click.option("--hold", default=0.3, show_default=True, help="Seconds the tag stays after the reader is done.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a reader.")
def emulate(device: str, sku: str | None, offer_id: str | None, card: str | None, staff: str | None, blank: bool,
            uid_hex: str | None, form: str, title: str | None, shop_url: str, read_only: bool, capacity: int,
            hold: float, timeout: float) -> None:
    """Present one simulated tag to a reader once."""
    from nfc_reader import EmulatorError, TagEmulator

    contents = sum(x is not None for x in (sku, offer_id, card, staff)) + blank
    if contents > 1 or (contents == 0 and uid_hex is None):
        raise click.UsageError("give exactly one of --sku, --offer, --card, --staff, --blank (or --uid alone for a "
                               "tag without NDEF)")
    host, port = _udp_address(device)
    idm = _idm(uid_hex) if uid_hex else None
    try:
        message = (_product_message(form, shop_url, sku, title) if sku
                   else _offer_message(form, shop_url, offer_id, title) if offer_id
                   else encode_card(card) if card else encode_badge(staff) if staff else b"" if blank else None)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    try:
        emulator = TagEmulator(port, host, capacity=capacity, read_only=read_only)
    except EmulatorError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        emulator.load(message, idm)
        if not emulator.present(hold_s=hold, timeout_s=timeout):
            raise click.ClickException(f"no reader read the tag on {device} within {timeout:g} s")
        now_holds = emulator.ndef_message
    except (EmulatorError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        emulator.close()
    click.echo("tag read")
    if now_holds != message and now_holds is not None:
        click.echo("a reader wrote to the tag; it now holds:")
        for line in describe_records(now_holds):
            click.echo(f"  {line}")


@nfc.command()
@click.option("--device", default=AUTO, show_default=True, help=_DEVICE_HELP)
@click.option("--uid-table", type=click.Path(dir_okay=False, path_type=Path), envvar="KIOSK_UID_TABLE",
              help="The UID -> SKU table of tags without NDEF [env KIOSK_UID_TABLE].")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a tag.")
def read(device: str, uid_table: Path | None, timeout: float) -> None:
    """Wait for a tag and print what it holds."""
    from nfc_reader import inspect_tag

    click.echo("hold a tag to the reader…", err=True)
    report = _staff_action(lambda: inspect_tag(device, timeout, UidTable(uid_table) if uid_table else None))
    click.echo(f"reader: {report.reader}")
    click.echo(f"tag:    {report.tag_type}")
    click.echo(f"uid:    {report.uid}")
    if report.ndef_length is None:
        click.echo("ndef:   none (the tag is not NDEF formatted)")
    else:
        access = "writable" if report.writeable else "read-only"
        click.echo(f"ndef:   {report.ndef_length} of {report.capacity} bytes, {access}")
        for number, line in enumerate(report.records, 1):
            click.echo(f"  record {number}: {line}")
    click.echo(f"means:  {_meaning(report.read)}")


@nfc.command()
@click.option("--sku", help="The product the tag stands for.")
@click.option("--offer", "offer_id", help="The offer a sign stands for (instead of --sku).")
@click.option("--device", default=AUTO, show_default=True, help=_DEVICE_HELP)
@click.option("--shop-url", default=DEFAULT_SHOP_URL, show_default=True, help="The web shop the tag's address uses.")
@click.option("--form", type=click.Choice(FORMS), default="uri", show_default=True,
              help="uri: the web shop address (phones open it too); the others for special cases.")
@click.option("--title", help="Title of a smart-poster tag.")
@click.option("--badge-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Write a staff badge: the signed token `kiosk hq issue-badge` wrote to this file.")
@click.option("--timeout", default=30.0, show_default=True, help="Seconds to wait for a tag.")
def write(sku: str | None, offer_id: str | None, device: str, shop_url: str, form: str, title: str | None,
          badge_file: Path | None, timeout: float) -> None:
    """Write a product tag (a sign, or a staff badge), read it back and confirm."""
    from nfc_reader import write_tag

    if sum(given is not None for given in (sku, offer_id, badge_file)) != 1:
        raise click.UsageError("give exactly one of --sku, --offer, --badge-file")
    badge = badge_file.read_text().strip() if badge_file is not None else None
    try:
        message = (_product_message(form, shop_url, sku, title) if sku is not None
                   else encode_badge(badge) if badge is not None
                   else _offer_message(form, shop_url, offer_id or "", title))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--sku" if sku is not None else "--offer") from None
    click.echo("hold the tag to the reader…", err=True)
    result = _staff_action(lambda: write_tag(device, message, timeout))
    back = result.read_back
    meant = ((back.kind, back.sku) == (TagKind.PRODUCT, sku) if sku is not None
             else (back.kind, back.token) == (TagKind.STAFF_BADGE, badge) if badge is not None
             else (back.kind, back.offer) == (TagKind.OFFER, offer_id))
    if not meant:
        raise click.ClickException(f"the tag was written but reads back as {_meaning(back)}")
    what = sku or (f"the sign of {offer_id}" if offer_id else "the staff badge")
    click.echo(f"wrote {what} to tag {result.uid} ({result.bytes_written} of {result.capacity} bytes); "
               f"read back: {_meaning(back)}")


@nfc.group()
def uid() -> None:
    """Maintain the UID -> SKU table for tags without NDEF."""


_TABLE_OPTION = click.option("--table", type=click.Path(dir_okay=False, path_type=Path), envvar="KIOSK_UID_TABLE",
                             required=True, help="The table file [env KIOSK_UID_TABLE].")


@uid.command("add")
@click.argument("tag_uid")
@click.argument("sku")
@_TABLE_OPTION
def uid_add(tag_uid: str, sku: str, table: Path) -> None:
    """Make the tag TAG_UID stand for SKU."""
    try:
        key = UidTable(table).assign(tag_uid, sku)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except UidTableError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{key} -> {sku}")


@uid.command("remove")
@click.argument("tag_uid")
@_TABLE_OPTION
def uid_remove(tag_uid: str, table: Path) -> None:
    """Forget the tag TAG_UID."""
    try:
        removed = UidTable(table).remove(tag_uid)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    except UidTableError as exc:
        raise click.ClickException(str(exc)) from None
    if not removed:
        raise click.ClickException(f"{tag_uid} is not in {table}")
    click.echo(f"removed {normalize_uid(tag_uid)}")


@uid.command("list")
@_TABLE_OPTION
def uid_list(table: Path) -> None:
    """Print every UID and its SKU."""
    try:
        entries = UidTable(table).entries()
    except UidTableError as exc:
        raise click.ClickException(str(exc)) from None
    for key, sku in entries.items():
        click.echo(f"{key} {sku}")


@nfc.command()
@click.option("--device", required=True, help="udp:HOST:PORT the kiosk reads.")
@click.option("--catalog", type=click.Path(exists=True, path_type=Path), required=True)
@click.option("--card-token", required=True, help="Signed token of the demo loyalty card.")
@click.option("--badge-token", help="Signed token of a staff badge (adds a staff badge button).")
def simulator(device: str, catalog: Path, card_token: str, badge_token: str | None) -> None:
    """Open the tag simulator panel: virtual product tags, a loyalty card and a staff badge."""
    from kiosk_app.ui import run_simulator_window

    run_simulator_window(device, catalog, card_token, badge_token)


def _staff_action(action: Callable[[], T]) -> T:
    """Run a one-tag action; reader and tag problems become a clear message and exit code 1."""
    try:
        return action()
    except ReaderUnavailable as exc:
        raise click.ClickException(f"{exc}\nhint: {exc.hint}" if exc.hint else str(exc)) from None
    except TagWriteError as exc:
        raise click.ClickException(f"not written: {exc}") from None
    except (NoTagPresented, UidTableError) as exc:
        raise click.ClickException(str(exc)) from None


def _product_message(form: str, shop_url: str, sku: str, title: str | None) -> bytes:
    validate_sku(sku)
    if form == "smart-poster":
        return encode_product_smart_poster(shop_url, sku, title)
    if form == "text":
        return encode_product_text(sku)
    if form == "mime":
        return encode_product_mime(sku)
    return encode_product(shop_url, sku)


def _offer_message(form: str, shop_url: str, offer_id: str, title: str | None) -> bytes:
    validate_offer_id(offer_id)
    if form == "smart-poster":
        return encode_offer_smart_poster(shop_url, offer_id, title)
    if form == "text":
        return encode_offer_text(shop_url, offer_id)  # the address: a bare id would read as a SKU
    if form == "mime":
        return encode_offer_mime(offer_id)
    return encode_offer(shop_url, offer_id)


def _meaning(read: TagRead) -> str:
    source = f" (from the {read.source.value.replace('_', ' ')})" if read.source else ""
    if read.kind is TagKind.PRODUCT:
        return f"product {read.sku}{source}"
    if read.kind is TagKind.OFFER:
        shop = f" of {read.host}" if read.host else ""
        return f"sign of offer {read.offer}{shop}{source}"
    if read.kind in (TagKind.SHOPPER_CARD, TagKind.STAFF_BADGE):
        return f"{read.kind.value.replace('_', ' ')} with a token (verified by the kiosk, not here)"
    return f"unreadable: {read.reason}"


def _idm(uid_hex: str) -> bytes:
    try:
        idm = bytes.fromhex(normalize_uid(uid_hex))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--uid") from None
    if len(idm) != 8:
        raise click.BadParameter("a Type 3 tag's UID is 8 bytes (16 hex digits)", param_hint="--uid")
    return idm


def _udp_address(device: str) -> tuple[str, int]:
    try:
        kind, host, port = device.split(":")
        if kind != "udp":
            raise ValueError
        return host, int(port)
    except ValueError:
        raise click.BadParameter(f"expected udp:HOST:PORT, got {device!r}", param_hint="--device") from None
