"""Sending the alarm log's notices: to a webhook, signed to the Standard Webhooks
specification like the change webhooks (``_delivery``), or as an e-mail through HQ's SMTP
server. At least once, tried again with ``DeliveryPolicy``'s backoff and parked with the
reason when it cannot succeed; a raised notice goes before the same route's cleared one.

A webhook's body is ``{"type": "alarm.raised" | "alarm.cleared", "timestamp", "data": {...}}``
and its ``webhook-id`` is ``alarm_<id>_<event>`` for receivers to drop repeats by.

The SMTP server is ``smtps://`` (TLS from the start) or ``smtp://`` (STARTTLS, required
unless the server is on this host, a local relay): neither a password nor an alarm crosses
the network in the clear.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import random
import smtplib
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy.exc import SQLAlchemyError

from hq._alarm_log import Alarm, AlarmLog, Notice, NoticeEvent
from hq._delivery import USER_AGENT, DeliveryPolicy, Outcome, Verdict, judge, printable, signed_headers
from hq._webhooks import check_url
from hq.exceptions import HqError, WebhookRefused
from kiosk_protocol import Store

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class SmtpServer:
    """Where HQ sends alarm e-mails from, and how it logs in."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str
    sender: str

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpServer:
        """``smtp://[user:password@]host[:port]`` or ``smtps://...``.

        Raises:
            HqError: not such a URL.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise HqError("the SMTP server is smtp://[user:password@]host[:port] (STARTTLS) or smtps://... (TLS)")
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 587)
        except ValueError as exc:
            raise HqError(f"not an SMTP server URL: {exc}") from exc
        if "@" not in sender:
            raise HqError(f"alarm e-mails come from an address, not {sender!r}")
        return cls(parts.hostname, port, parts.scheme == "smtps", unquote(parts.username or ""),
                   unquote(parts.password or ""), sender)

    @property
    def local(self) -> bool:
        """Whether the server is on this host (a relay beside HQ), where plain SMTP crosses no network."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def __repr__(self) -> str:  # never the password
        return f"SmtpServer({self.host}:{self.port}, {'TLS' if self.implicit_tls else 'STARTTLS'})"


def webhook_body(notice: Notice, at: datetime) -> str:
    """A notice as its webhook's JSON body."""
    alarm = notice.alarm
    return json.dumps({"type": f"alarm.{notice.event.value}", "timestamp": at.isoformat(), "data": {
        "alarm": alarm.id, "store": alarm.key.store, "kiosk": alarm.key.kiosk or None, "kind": alarm.key.kind.value,
        "message": alarm.message, "raised_at": alarm.raised_at.isoformat(),
        "cleared_at": alarm.cleared_at.isoformat() if alarm.cleared_at else None}}, separators=(",", ":"))


def webhook_id(notice: Notice) -> str:
    return f"alarm_{notice.alarm.id}_{notice.event.value}"


def email_of(notice: Notice, sender: str, zone: ZoneInfo) -> EmailMessage:
    """A notice as an e-mail to its route, its times on the store's clock."""
    alarm = notice.alarm
    where = f"{alarm.key.store}, {alarm.key.kiosk}" if alarm.key.kiosk else alarm.key.store
    cleared = notice.event is NoticeEvent.CLEARED
    message = EmailMessage()
    message["From"], message["To"] = sender, notice.route.email or ""
    message["Subject"] = f"{'Cleared' if cleared else 'Alarm'}: {where}: {alarm.message}"
    message["Message-ID"] = make_msgid(f"alarm-{alarm.id}-{notice.event.value}")
    message["Auto-Submitted"] = "auto-generated"  # no out-of-office replies to HQ
    lines = [f"Store: {alarm.key.store}", f"Kiosk: {alarm.key.kiosk or 'the store itself'}",
             f"Alarm: {alarm.message} ({alarm.key.kind.value})", f"Raised: {_local(alarm.raised_at, zone)}"]
    if alarm.cleared_at is not None:
        minutes = int((alarm.cleared_at - alarm.raised_at).total_seconds() // 60)
        lines.append(f"Cleared: {_local(alarm.cleared_at, zone)}, after {minutes} min")
    message.set_content("\n".join(lines) + "\n")
    return message


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}"


@dataclass
class AlarmDeliveryStats:
    sent: int = 0
    retried: int = 0
    parked: int = 0


class AlarmDelivery:
    """Sends the notices due, from a thread; ``start``, then ``stop``. Several HQ processes may
    run one: each notice is claimed by one of them for the length of an attempt."""

    def __init__(self, alarms: AlarmLog, smtp: SmtpServer | None = None, policy: DeliveryPolicy | None = None,
                 stores: Callable[[], Sequence[Store]] = tuple, poll_s: float = 1.0,
                 chance: Callable[[], float] = random.random) -> None:
        self.alarms, self.smtp = alarms, smtp
        self.policy = policy or DeliveryPolicy()
        self.stats = AlarmDeliveryStats()
        self._stores = stores
        self._poll_s = poll_s
        self._chance = chance
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hq-alarm-delivery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(self.policy.timeout_s + 5)

    def send_due(self) -> int:
        """Try every notice due now once; how many were tried."""
        claimed = self.alarms.claim_due(datetime.now(UTC), hold_s=self.policy.timeout_s * 2 + 30)
        for notice in claimed:
            outcome = self._email(notice) if notice.route.email else self._post(notice)
            self._settle(notice, outcome)
        return len(claimed)

    def _post(self, notice: Notice) -> Outcome:
        url, secret = notice.route.webhook_url or "", notice.route.secret or ""
        try:
            check_url(url, allow_http=True)  # whatever the database holds, only http(s)
        except WebhookRefused as exc:
            return Outcome(Verdict.PARK, str(exc))
        at = datetime.now(UTC)
        body = webhook_body(notice, at)
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,
                   **signed_headers(secret, webhook_id(notice), body, at)}
        try:
            with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
                answer = client.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:  # refused, reset, timed out, TLS
            return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")
        return judge(answer.status_code, answer.headers, answer.reason_phrase)

    def _email(self, notice: Notice) -> Outcome:
        if self.smtp is None:
            return Outcome(Verdict.RETRY, "HQ has no SMTP server to send e-mail through: start it with --smtp")
        server = self.smtp
        zone = _zone(self._stores(), notice.alarm)
        message = email_of(notice, server.sender, zone)
        context = ssl.create_default_context()
        try:
            if server.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=self.policy.timeout_s,
                                                        context=context)
            else:
                client = smtplib.SMTP(server.host, server.port, timeout=self.policy.timeout_s)
            with client:
                client.ehlo()
                if not server.implicit_tls:
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif not server.local:
                        return Outcome(Verdict.RETRY, f"{server.host} offers no STARTTLS: HQ sends neither a "
                                                      "password nor an alarm across the network in the clear")
                if server.username:
                    client.login(server.username, server.password)
                client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            return Outcome(Verdict.RETRY if 400 <= code < 500 else Verdict.PARK,
                           f"the SMTP server refused {notice.route.email}: {code} {reply.decode(errors='replace')}")
        except smtplib.SMTPResponseException as exc:
            reply = exc.smtp_error if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error).encode()
            return Outcome(Verdict.RETRY if exc.smtp_code < 500 else Verdict.PARK,
                           f"the SMTP server answered {exc.smtp_code} {reply.decode(errors='replace')}")
        except (smtplib.SMTPException, OSError) as exc:  # no connection, a broken one, TLS
            return Outcome(Verdict.RETRY, f"{type(exc).__name__}: {exc}")
        return Outcome(Verdict.DELIVERED)

    def _settle(self, notice: Notice, outcome: Outcome) -> None:
        now, problem = datetime.now(UTC), printable(outcome.problem)  # a server's words, kept and shown
        what = f"{notice.event.value} notice of alarm {notice.alarm.id} to {notice.route.target}"
        if outcome.verdict is Verdict.DELIVERED:
            self.alarms.sent(notice, now)
            self.stats.sent += 1
            return
        due = None if outcome.verdict is Verdict.PARK else self.policy.next_attempt(
            notice.attempts + 1, notice.first_tried or now, now, self._chance(), outcome.retry_after_s)
        if due is None:
            self.alarms.park(notice, now, problem)
            self.stats.parked += 1
            log.error("%s parked after %d attempt(s): %s", what, notice.attempts + 1, problem)
        else:
            self.alarms.retry(notice, now, due, problem)
            self.stats.retried += 1
            log.warning("%s tried again in %.0f s: %s", what, (due - now).total_seconds(), problem)

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                busy = self.send_due()
            except SQLAlchemyError as exc:
                busy = 0
                log.error("alarm notices not sent this round, the profile database is out of reach: %s", exc)
            if not busy:
                self._stopping.wait(self._poll_s)


def _zone(stores: Sequence[Store], alarm: Alarm) -> ZoneInfo:
    listed = next((s for s in stores if s.id == alarm.key.store), None)
    return ZoneInfo(listed.time_zone if listed else "UTC")
