"""Webhooks: channels that would rather be called than follow the change feed.

A webhook belongs to one channel (``web``, ``app``...: an API channel's id) and holds a URL
and a signing secret (Standard Webhooks' ``whsec_<base64>``). It hears of every change in
HQ's change log (``_changes``) that its own channel did not make, at least once, in cursor
order per shopper: ``_webhook_queue`` keeps its tables and progress, ``_delivery`` sends.
``Webhooks`` is what operators do: add, list, remove, and retry what was parked.

A URL must be ``https``; plain ``http`` only to this host (loopback) unless allowed
explicitly. A URL with credentials in it, a fragment, or a link-local, multicast or
unspecified address (cloud metadata services live at 169.254.169.254) is refused.
"""

from __future__ import annotations

import base64
import ipaddress
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from hq._auth import is_channel
from hq._changes import ChangeLog, Wakers, changes
from hq._webhook_queue import MAX_URL_LENGTH, Webhook, WebhookQueue, webhook_from_row, webhook_queue, webhooks
from hq.exceptions import WebhookRefused

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32  # Standard Webhooks asks for 24 to 64 random bytes
SHOWN_PARKED = 100  # parked changes listed per webhook; the count covers them all


@dataclass(frozen=True)
class ParkedChange:
    """A change a webhook gave up on, and how many of its shopper's later changes it holds back."""

    channel: str
    cursor: int
    shopper: str
    kind: str
    attempts: int
    problem: str
    parked_at: datetime
    held: int


@dataclass(frozen=True)
class WebhookStatus:
    """A webhook with what waits in its queue now."""

    webhook: Webhook
    queued: int  # changes not yet delivered, parked and held ones included
    parked_now: int
    parked_changes: tuple[ParkedChange, ...]  # the oldest ``SHOWN_PARKED``


def new_secret() -> str:
    """A fresh signing secret in Standard Webhooks' form, ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def check_url(url: str, *, allow_http: bool = False) -> str:
    """``url`` if HQ may call it, else ``WebhookRefused`` saying why.

    ``https`` anywhere; ``http`` to this host only (tests, demos), or anywhere with
    ``allow_http``. What it names is not resolved here: a name that resolves to a
    refused address is not caught (see docs/security.md).
    """
    if len(url) > MAX_URL_LENGTH or not url.isascii() or any(ch <= " " or ch == "\x7f" for ch in url):
        raise WebhookRefused(f"a webhook URL is at most {MAX_URL_LENGTH} printable ASCII characters, no spaces "
                             "(give a host name in its xn-- form)")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise WebhookRefused(f"a webhook URL is https:// (or http:// to this host), not {parts.scheme or 'none'}")
    if "@" in parts.netloc:
        raise WebhookRefused("a webhook URL may not hold credentials (user:password@): the receiver checks "
                             "the signature instead")
    if parts.fragment or url.endswith("#"):
        raise WebhookRefused("a webhook URL has no #fragment")
    try:
        host, _port = parts.hostname, parts.port
    except ValueError as exc:
        raise WebhookRefused(f"not a URL HQ can call: {exc}") from exc
    if not host:
        raise WebhookRefused("a webhook URL names a host")
    address = _ip_literal(host)
    if address is not None and (address.is_link_local or address.is_multicast or address.is_unspecified
                                or address == ipaddress.IPv4Address("255.255.255.255")):
        raise WebhookRefused(f"HQ does not call {address}: a link-local, multicast or unspecified address "
                             "(cloud metadata services answer on 169.254.169.254)")
    loopback = host == "localhost" or host.endswith(".localhost") or (address is not None and address.is_loopback)
    if parts.scheme == "http" and not (loopback or allow_http):
        raise WebhookRefused("a webhook URL is https://: plain http:// only to this host, or with --allow-http")
    return url


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` spells, in any form the resolver takes (``2852039166``, ``0xa9.254.1``...)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None  # a name
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class Webhooks:
    """The webhooks HQ calls, as operators add, list, remove and retry them."""

    def __init__(self, engine: sa.Engine, changes: ChangeLog) -> None:
        self._engine = engine
        self.changes = changes  # the log they deliver from
        self.changed = Wakers()  # a webhook added or removed in this process
        self.queue = WebhookQueue(engine)  # what delivery does with them

    def add(self, channel: str, url: str, *, allow_http: bool = False, secret: str | None = None) -> Webhook:
        """Register ``channel``'s webhook; it hears of the changes made from now on.

        Raises:
            WebhookRefused: an unfit channel name or URL, or the channel has a webhook already.
        """
        if not is_channel(channel):
            raise WebhookRefused(f"not a channel name: {channel!r} (lowercase letters, digits and '-', as the "
                                 "API key file's)")
        check_url(url, allow_http=allow_http)
        hook = Webhook(channel, url, secret or new_secret(), datetime.now(UTC))
        try:
            with self._engine.begin() as db:
                latest = db.execute(sa.select(sa.func.coalesce(sa.func.max(changes.c.cursor), 0))).scalar_one()
                db.execute(webhooks.insert().values(channel=channel, url=url, secret=hook.secret,
                                                    created_at=hook.created_at, scanned=latest, delivered=0,
                                                    retried=0, parked=0))
        except IntegrityError as exc:
            raise WebhookRefused(f"channel {channel!r} has a webhook already; remove it first") from exc
        self.changed.wake()
        return hook

    def remove(self, channel: str) -> int | None:
        """Remove ``channel``'s webhook; returns how many undelivered changes it dropped (None: it had none)."""
        with self._engine.begin() as db:
            dropped = db.execute(webhook_queue.delete().where(webhook_queue.c.channel == channel)).rowcount
            if not db.execute(webhooks.delete().where(webhooks.c.channel == channel)).rowcount:
                return None
        self.changed.wake()
        return int(dropped)

    def get(self, channel: str) -> Webhook | None:
        """``channel``'s webhook, if it has one."""
        with self._engine.connect() as db:
            row = db.execute(sa.select(webhooks).where(webhooks.c.channel == channel)).first()
        return webhook_from_row(row) if row is not None else None

    def all(self) -> list[Webhook]:
        """Every webhook, by channel."""
        with self._engine.connect() as db:
            return [webhook_from_row(row) for row in db.execute(sa.select(webhooks).order_by(webhooks.c.channel))]

    def statuses(self) -> list[WebhookStatus]:
        """Every webhook with its queue: how much waits, and the parked changes."""
        queue = webhook_queue
        later = queue.alias("later")
        held = (sa.select(sa.func.count()).where(later.c.channel == queue.c.channel,
                                                 later.c.shopper == queue.c.shopper, later.c.cursor > queue.c.cursor)
                .scalar_subquery())
        is_parked = queue.c.parked_at.is_not(None)
        with self._engine.connect() as db:
            hooks = [webhook_from_row(row) for row in db.execute(sa.select(webhooks).order_by(webhooks.c.channel))]
            counts = {(row.channel, row.is_parked): row.n for row in db.execute(
                sa.select(queue.c.channel, is_parked.label("is_parked"), sa.func.count().label("n"))
                .group_by(queue.c.channel, is_parked))}
            parked = [ParkedChange(row.channel, row.cursor, row.shopper, row.kind or "", row.attempts,
                                   row.problem or "", _utc(row.parked_at), row.held)
                      for hook in hooks for row in db.execute(
                          sa.select(queue.c.channel, queue.c.cursor, queue.c.shopper, queue.c.attempts,
                                    queue.c.problem, queue.c.parked_at, changes.c.kind, held.label("held"))
                          .select_from(queue.outerjoin(changes, changes.c.cursor == queue.c.cursor))
                          .where(queue.c.channel == hook.channel, queue.c.parked_at.is_not(None))
                          .order_by(queue.c.cursor).limit(SHOWN_PARKED))]
        return [WebhookStatus(hook, counts.get((hook.channel, False), 0) + counts.get((hook.channel, True), 0),
                              counts.get((hook.channel, True), 0),
                              tuple(p for p in parked if p.channel == hook.channel)) for hook in hooks]

    def retry(self, channel: str, cursor: int | None = None) -> int:
        """Queue ``channel``'s parked change at ``cursor`` (every parked one with None) to be sent again
        now, with a fresh count of attempts; the shopper's held changes follow it in order.

        Returns how many were parked and are queued again.
        """
        where = [webhook_queue.c.channel == channel, webhook_queue.c.parked_at.is_not(None)]
        if cursor is not None:
            where.append(webhook_queue.c.cursor == cursor)
        with self._engine.begin() as db:
            return int(db.execute(webhook_queue.update().where(*where).values(
                parked_at=None, attempts=0, first_tried=None, problem=None, due=datetime.now(UTC))).rowcount)


def _utc(moment: datetime) -> datetime:
    """SQLite gives back naive datetimes; HQ stores UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
