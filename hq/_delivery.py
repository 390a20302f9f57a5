"""Delivering webhooks: each change a channel did not make, POSTed to its webhook, signed to the
Standard Webhooks specification, at least once, in cursor order per shopper.

``WebhookDelivery`` runs in ``kiosk hq serve``: one thread with an asyncio loop and, per
webhook, a *lane* that holds the webhook's lease (so that of several HQ processes on one
database one delivers it), reads the change log into the webhook's queue and sends the
heads that are due, one per shopper at a time, up to ``DeliveryPolicy.in_flight`` at once.

An attempt is one POST, with no redirect followed and no answer body read, that must
answer within ``timeout_s`` in all (a receiver that hangs or trickles is cut off):

- 2xx: delivered;
- 408, 429, 5xx, no connection, no answer in time: tried again after a delay that doubles
  from ``first_retry_s`` up to ``max_retry_s``, with jitter (and no sooner than a 429's or
  503's ``Retry-After``, up to that cap);
- anything else (another 4xx, a redirect, a URL HQ may not call): parked at once;
- after ``max_attempts`` attempts, or a failure ``give_up_after_s`` after the first
  attempt, the change is parked too. A parked change holds back its shopper's later
  changes for this webhook until an operator retries it (``Webhooks.retry``).

Each attempt is signed anew (``webhook-timestamp`` is when it was sent); ``webhook-id`` is
the same for every attempt at one change for one channel, so a receiver drops repeats by
it. A change sent but not yet recorded when HQ stops is sent again after the restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy.exc import SQLAlchemyError
from standardwebhooks import Webhook as Signer

from hq._changes import Change
from hq._feed_api import change_out
from hq._webhook_queue import Head, Webhook
from hq._webhooks import Webhooks, check_url
from hq.exceptions import WebhookRefused

log = logging.getLogger(__name__)

USER_AGENT = "nfc-kiosk-hq-webhooks/1"
_PROBLEM_LENGTH = 300
_DB_RETRY_S = 1.0


@dataclass(frozen=True)
class DeliveryPolicy:
    """How hard HQ tries to deliver a change, and how often it looks for new ones."""

    timeout_s: float = 10.0  # one attempt, from connecting to the answer's status line
    first_retry_s: float = 5.0
    max_retry_s: float = 1800.0  # the longest wait between two attempts
    max_attempts: int = 20  # about 3 to 6 hours of retries with the delays above
    give_up_after_s: float = 24 * 3600.0  # a failure this long after the first attempt parks the change
    # How often an idle lane reads the change log: for changes made by other HQ processes
    # (one made in this process wakes the lanes at its commit).
    poll_s: float = 0.05
    in_flight: int = 8  # attempts under way at once per webhook (each for another shopper)
    lease_s: float = 30.0  # how long a dead HQ process keeps another from taking its webhooks over
    refresh_s: float = 1.0  # how often the list of webhooks is read again (added, removed)

    def __post_init__(self) -> None:
        if min(self.timeout_s, self.first_retry_s, self.poll_s, self.lease_s, self.refresh_s) <= 0 \
                or self.max_retry_s < self.first_retry_s or self.max_attempts < 1 or self.in_flight < 1 \
                or self.give_up_after_s <= 0:
            raise ValueError(f"not a delivery policy: {self}")

    def retry_in(self, attempts: int, chance: float, retry_after_s: float | None = None) -> float:
        """Seconds to wait after ``attempts`` failed attempts: the delay doubles from
        ``first_retry_s`` up to ``max_retry_s``, and ``chance`` (in [0, 1)) takes up to half of it
        off, so receivers that come back are not met by every change at once."""
        ceiling = min(self.max_retry_s, self.first_retry_s * 2.0 ** min(max(attempts - 1, 0), 60))
        delay = ceiling / 2 + ceiling / 2 * chance
        return max(delay, min(retry_after_s, self.max_retry_s)) if retry_after_s else delay

    def next_attempt(self, attempts: int, first_tried: datetime, now: datetime, chance: float,
                     retry_after_s: float | None = None) -> datetime | None:
        """When to try again after the failed attempt number ``attempts``, or None to park the change."""
        if attempts >= self.max_attempts or (now - first_tried).total_seconds() >= self.give_up_after_s:
            return None
        return now + timedelta(seconds=self.retry_in(attempts, chance, retry_after_s))


class Verdict(enum.Enum):
    """What an attempt's outcome means for the change."""

    DELIVERED = "delivered"
    RETRY = "retry"
    PARK = "park"


@dataclass(frozen=True)
class Outcome:
    """How one attempt went."""

    verdict: Verdict
    problem: str = ""
    retry_after_s: float | None = None


def judge(status: int, headers: Mapping[str, str] | None = None, reason: str = "") -> Outcome:
    """What a receiver's answer means: 2xx delivered; 408, 429 and 5xx worth retrying; the rest
    (another 4xx, a redirect, which is never followed) a failure for good."""
    said = printable(f"answered {status} {reason}".strip())
    if 200 <= status < 300:
        return Outcome(Verdict.DELIVERED)
    if status in (408, 429) or status >= 500:
        return Outcome(Verdict.RETRY, said, _retry_after(headers or {}))
    if 300 <= status < 400:
        location = printable((headers or {}).get("location", ""))
        return Outcome(Verdict.PARK, f"{said}, a redirect{' to ' + location if location else ''}: redirects are "
                                     "not followed, give the webhook its final URL")
    return Outcome(Verdict.PARK, said)


def message_id(channel: str, cursor: int) -> str:
    """The ``webhook-id`` of a change for a channel: the same for every attempt, for receivers to dedupe by."""
    return f"chg_{cursor}_{channel}"


def message_body(change: Change) -> str:
    """A change as ``GET /v1/changes`` lists it: the webhook's body."""
    return change_out(change).model_dump_json(exclude_none=True)


def signed_headers(secret: str, msg_id: str, body: str, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of a message sent at ``at``."""
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
            "webhook-signature": Signer(secret).sign(msg_id, at, body)}


@dataclass
class DeliveryStats:
    """What this process's delivery did (each webhook's own counters are kept in the database)."""

    delivered: int = 0
    retried: int = 0
    parked: int = 0
    lanes: int = 0  # webhooks this process delivers now, one lane each


class WebhookDelivery:
    """Delivers every webhook's changes from a thread of its own; ``start``, then ``stop``."""

    def __init__(self, webhooks: Webhooks, policy: DeliveryPolicy | None = None, *, owner: str | None = None,
                 chance: Callable[[], float] = random.random) -> None:
        self.registry, self.queue = webhooks, webhooks.queue
        self.policy = policy or DeliveryPolicy()
        self.owner = owner or f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stats = DeliveryStats()
        self._chance = chance
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._lanes_started = 0
        self._woken: set[asyncio.Event] = set()  # one per lane: set when a change is written in this process

    def start(self) -> None:
        """Start delivering, in a thread."""
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="webhook-delivery",
                                        daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> None:
        """Stop: attempts under way are dropped (and made again later), leases given back."""
        if self._loop is not None and self._stopping is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(self.policy.timeout_s + 10)

    async def _run(self) -> None:
        self._loop, self._stopping = asyncio.get_running_loop(), asyncio.Event()
        unfollow = self.registry.changes.written.follow(self._wake)
        hooks_changed = asyncio.Event()
        unfollow_hooks = self.registry.changed.follow(lambda: self._signal(hooks_changed))
        self._ready.set()
        lanes: dict[tuple[str, datetime], asyncio.Task[None]] = {}
        try:
            while not self._stopping.is_set():
                try:  # a webhook removed and added again is another one: it gets a lane of its own
                    hooks = {(hook.channel, hook.created_at) for hook in await asyncio.to_thread(self.registry.all)}
                except SQLAlchemyError as exc:
                    log.warning("cannot read the webhooks, trying again: %s", exc)
                    hooks = set(lanes)
                for key, lane in list(lanes.items()):
                    if lane.done() and not lane.cancelled() and lane.exception() is not None:
                        log.error("webhook of %s: its delivery failed, starting again", key[0],
                                  exc_info=lane.exception())
                    if key not in hooks or lane.done():  # removed, or failed
                        lane.cancel()
                        del lanes[key]
                for key in hooks - lanes.keys():
                    self._lanes_started += 1
                    lanes[key] = asyncio.create_task(self._lane(key[0], f"{self.owner}/{self._lanes_started}"),
                                                     name=f"webhook-{key[0]}")
                self.stats.lanes = len(lanes)
                await self._idle(hooks_changed, self.policy.refresh_s)
        finally:
            unfollow()
            unfollow_hooks()
            for lane in lanes.values():
                lane.cancel()
            await asyncio.gather(*lanes.values(), return_exceptions=True)

    def _wake(self) -> None:
        """On a writer's thread: every lane looks at the log now."""
        for woken in list(self._woken):
            self._signal(woken)

    def _signal(self, event: asyncio.Event) -> None:
        """Set ``event`` on the delivery's loop, from any thread."""
        if (loop := self._loop) is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(event.set)

    async def _idle(self, woken: asyncio.Event, seconds: float) -> None:
        """Until ``woken`` is set (something was written in this process), ``seconds`` pass, or delivery stops."""
        assert self._stopping is not None
        stopping = asyncio.ensure_future(self._stopping.wait())
        written = asyncio.ensure_future(woken.wait())
        try:
            await asyncio.wait((stopping, written), timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            written.cancel()
        woken.clear()

    async def _pause(self, seconds: float) -> None:
        assert self._stopping is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _lane(self, channel: str, owner: str) -> None:
        """Deliver one webhook's changes while ``owner`` (this lane) holds its lease."""
        policy, hook, renewed = self.policy, None, -float("inf")
        assert self._stopping is not None
        woken = asyncio.Event()
        self._woken.add(woken)
        try:
            async with httpx.AsyncClient(follow_redirects=False, trust_env=False, timeout=policy.timeout_s,
                                         limits=httpx.Limits(max_connections=policy.in_flight)) as client:
                while not self._stopping.is_set():
                    try:
                        if time.monotonic() - renewed > policy.lease_s / 3:
                            hook = await asyncio.to_thread(self.queue.claim, channel, owner, policy.lease_s)
                            renewed = time.monotonic() if hook else -float("inf")
                        if hook is None:  # another HQ process delivers it
                            await self._pause(policy.lease_s / 3)
                            continue
                        await asyncio.to_thread(self.queue.scan, channel)
                        heads = await asyncio.to_thread(self.queue.heads, channel, policy.in_flight)
                    except SQLAlchemyError as exc:
                        log.warning("webhook of %s waits: cannot reach the profile database: %s", channel, exc)
                        await self._pause(_DB_RETRY_S)
                        continue
                    if heads:
                        await asyncio.gather(*(self._attempt(client, hook, head) for head in heads))
                    else:
                        await self._idle(woken, policy.poll_s)
        finally:
            self._woken.discard(woken)
            if hook is not None:
                with contextlib.suppress(SQLAlchemyError):
                    await asyncio.to_thread(self.queue.release, channel, owner)

    async def _attempt(self, client: httpx.AsyncClient, hook: Webhook, head: Head) -> None:
        outcome = await self._post(client, hook, head.change)
        try:
            settled = await asyncio.to_thread(self._record, hook, head, outcome)
        except SQLAlchemyError as exc:  # not recorded: the change is sent again
            log.warning("webhook of %s: cannot record an attempt at change %d: %s", hook.channel,
                        head.change.cursor, exc)
            return
        if settled is Verdict.DELIVERED:  # counted here, on the loop's thread only
            self.stats.delivered += 1
        elif settled is Verdict.RETRY:
            self.stats.retried += 1
        else:
            self.stats.parked += 1

    async def _post(self, client: httpx.AsyncClient, hook: Webhook, change: Change) -> Outcome:
        try:
            check_url(hook.url, allow_http=True)  # whatever the database holds, only http(s)
        except WebhookRefused as exc:
            return Outcome(Verdict.PARK, printable(str(exc)))
        body = message_body(change)
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,
                   **signed_headers(hook.secret, message_id(hook.channel, change.cursor), body, datetime.now(UTC))}
        try:
            async with asyncio.timeout(self.policy.timeout_s):
                async with client.stream("POST", hook.url, content=body.encode(), headers=headers) as answer:
                    return judge(answer.status_code, answer.headers, answer.reason_phrase)  # its body unread
        except TimeoutError:
            return Outcome(Verdict.RETRY, f"no answer within {self.policy.timeout_s:g} s")
        except httpx.UnsupportedProtocol as exc:
            return Outcome(Verdict.PARK, printable(str(exc)))
        except httpx.HTTPError as exc:  # refused, reset, a broken answer, TLS
            return Outcome(Verdict.RETRY, printable(f"{type(exc).__name__}: {exc}"))

    def _record(self, hook: Webhook, head: Head, outcome: Outcome) -> Verdict:
        """Settle an attempt in the database; returns what became of the change."""
        cursor = head.change.cursor
        if outcome.verdict is Verdict.DELIVERED:
            self.queue.delivered(hook.channel, cursor)
            return Verdict.DELIVERED
        now, attempts = datetime.now(UTC), head.attempts + 1
        first_tried = head.first_tried or now
        due = None if outcome.verdict is Verdict.PARK else self.policy.next_attempt(
            attempts, first_tried, now, self._chance(), outcome.retry_after_s)
        if due is None:
            self.queue.park(hook.channel, cursor, attempts, first_tried, outcome.problem)
            log.warning("webhook of %s parked change %d after %d attempt(s), holding back its shopper's later "
                        "changes until it is retried: %s", hook.channel, cursor, attempts, outcome.problem)
            return Verdict.PARK
        self.queue.retry_later(hook.channel, cursor, attempts, first_tried, due, outcome.problem)
        log.info("webhook of %s: change %d tried again in %.1f s: %s", hook.channel, cursor,
                 (due - now).total_seconds(), outcome.problem)
        return Verdict.RETRY


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after", "")
    return float(value) if value.isdigit() else None  # an HTTP date is not followed: the backoff stands


def printable(text: str) -> str:
    """What a receiver said, safe to keep and show: printable, short."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:_PROBLEM_LENGTH]

