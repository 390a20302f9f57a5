"""Webhooks' pure parts and their queue: which URLs HQ calls, how long it waits between attempts,
what an answer means, how a message is signed, and the order a queue gives changes in (a
SQLite file; no server)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from hq import DeliveryPolicy, ProfileStore, WebhookRefused
from hq._delivery import Verdict, judge, message_body, message_id, signed_headers
from hq._webhooks import check_url, new_secret
from kiosk_protocol import ONLINE_STORE, EventKind, HlcClock, TapEvent, new_event

ACCEPTED = [
    "https://shop.example/hooks/kiosk",
    "https://shop.example:8443/hooks?source=hq",
    "https://10.1.2.3/hooks",  # a receiver inside the company's network
    "http://127.0.0.1:8080/hooks",  # this host: tests and demos
    "http://localhost/hooks",
    "http://[::1]:9000/hooks",
]
# (URL, allow_http, what the refusal says)
REFUSED = [
    ("ftp://shop.example/hooks", False, "not ftp"),
    ("file:///etc/passwd", False, "not file"),
    ("javascript:alert(1)", False, "not javascript"),
    ("shop.example/hooks", False, "not none"),
    ("https://user:secret@shop.example/hooks", False, "credentials"),
    ("https://token@shop.example/hooks", False, "credentials"),
    ("http://shop.example/hooks", False, "plain http:// only to this host"),
    ("http://169.254.169.254/latest/meta-data/", True, "169.254.169.254"),
    ("http://2852039166/latest/meta-data/", True, "169.254.169.254"),  # the same, as one number
    ("http://0xa9.0xfe.0xa9.0xfe/", True, "169.254.169.254"),
    ("http://[::ffff:169.254.169.254]/", True, "169.254.169.254"),
    ("http://[fe80::1]/", True, "link-local"),
    ("http://0.0.0.0:8080/", True, "0.0.0.0"),
    ("https://224.0.0.1/", False, "multicast"),
    ("https://shop.example/hooks#part", False, "fragment"),
    ("https://shop.example/ho oks", False, "no spaces"),
    ("https://shop.example/hooks\r\nX-Injected: 1", False, "printable"),
    ("https://tienda.españa/hooks", False, "xn--"),
    ("https://shop.example:99999/hooks", False, "not a URL HQ can call"),
    ("https:///hooks", False, "names a host"),
    ("https://shop.example/" + "a" * 2048, False, "at most 2048"),
]
# (status, verdict) as the receiver answers
ANSWERS = [(200, Verdict.DELIVERED), (204, Verdict.DELIVERED), (299, Verdict.DELIVERED),
           (408, Verdict.RETRY), (429, Verdict.RETRY), (500, Verdict.RETRY), (502, Verdict.RETRY),
           (503, Verdict.RETRY), (599, Verdict.RETRY),
           (400, Verdict.PARK), (401, Verdict.PARK), (403, Verdict.PARK), (404, Verdict.PARK), (410, Verdict.PARK),
           (413, Verdict.PARK), (422, Verdict.PARK), (301, Verdict.PARK), (302, Verdict.PARK), (307, Verdict.PARK),
           (308, Verdict.PARK), (100, Verdict.PARK)]
POLICY = DeliveryPolicy(first_retry_s=5, max_retry_s=1800, max_attempts=20, give_up_after_s=24 * 3600)
NOW = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_anywhere_and_plain_http_to_this_host_are_accepted(url: str) -> None:
    assert check_url(url) == url


@pytest.mark.parametrize(("url", "allow_http", "says"), REFUSED)
def test_unfit_urls_are_refused_saying_why(url: str, allow_http: bool, says: str) -> None:
    with pytest.raises(WebhookRefused, match=None) as refused:
        check_url(url, allow_http=allow_http)
    assert says in str(refused.value)


def test_plain_http_to_another_host_needs_the_explicit_allowance() -> None:
    assert check_url("http://receiver.internal/hooks", allow_http=True) == "http://receiver.internal/hooks"


def test_a_secret_is_standard_webhooks_whsec_with_32_random_bytes() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    for secret in secrets:
        assert secret.startswith("whsec_")
        assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) == 32


def test_retries_wait_twice_as_long_each_time_with_jitter_up_to_the_cap() -> None:
    lowest = [POLICY.retry_in(n, 0.0) for n in range(1, 14)]
    highest = [POLICY.retry_in(n, 0.999999) for n in range(1, 14)]
    assert lowest[:4] == [2.5, 5.0, 10.0, 20.0]
    assert [round(h) for h in highest[:4]] == [5, 10, 20, 40]
    assert max(highest) == pytest.approx(1800, abs=0.01) and lowest[-1] == 900  # capped at 30 min, jitter kept
    assert POLICY.retry_in(10**6, 0.5) <= 1800  # no overflow however many attempts
    middle = POLICY.retry_in(3, 0.5)
    assert lowest[2] < middle < highest[2]


def test_a_retry_after_is_honoured_up_to_the_cap() -> None:
    assert POLICY.retry_in(1, 0.0, retry_after_s=120) == 120
    assert POLICY.retry_in(1, 0.0, retry_after_s=1) == 2.5  # never sooner than the backoff
    assert POLICY.retry_in(1, 0.0, retry_after_s=10**9) == 1800


def test_a_change_is_parked_after_its_attempts_or_its_time_run_out() -> None:
    assert POLICY.next_attempt(1, NOW, NOW, 0.0) == NOW + timedelta(seconds=2.5)
    assert POLICY.next_attempt(19, NOW, NOW, 0.0) is not None
    assert POLICY.next_attempt(20, NOW, NOW, 0.0) is None
    assert POLICY.next_attempt(2, NOW, NOW + timedelta(hours=23, minutes=59), 0.0) is not None
    assert POLICY.next_attempt(2, NOW, NOW + timedelta(hours=24), 0.0) is None


@pytest.mark.parametrize("fields", [{"timeout_s": 0}, {"max_attempts": 0}, {"in_flight": 0},
                                    {"first_retry_s": 10, "max_retry_s": 5}, {"give_up_after_s": -1}])
def test_an_unfit_policy_is_refused(fields: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="not a delivery policy"):
        DeliveryPolicy(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(("status", "verdict"), ANSWERS)
def test_an_answer_s_status_decides_delivered_retried_or_parked(status: int, verdict: Verdict) -> None:
    assert judge(status).verdict is verdict


def test_what_a_receiver_says_is_kept_printable_and_short_and_a_redirect_is_named() -> None:
    outcome = judge(302, {"location": "https://elsewhere.example/\x1b[31mred"}, "Found")
    assert outcome.verdict is Verdict.PARK
    assert "redirects are not followed" in outcome.problem and "elsewhere.example" in outcome.problem
    assert "\x1b" not in outcome.problem
    assert len(judge(500, {}, "x" * 5000).problem) == 300
    assert judge(429, {"retry-after": "30"}).retry_after_s == 30
    assert judge(503, {"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}).retry_after_s is None


def test_a_message_is_signed_to_standard_webhooks_and_a_forgery_is_refused() -> None:
    secret, body = new_secret(), '{"cursor": 7, "kind": "erase"}'
    headers = signed_headers(secret, message_id("web", 7), body, datetime.now(UTC))
    assert headers["webhook-id"] == "chg_7_web" == message_id("web", 7)
    assert Verifier(secret).verify(body, headers) == {"cursor": 7, "kind": "erase"}
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(body.replace("7", "8"), headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(new_secret()).verify(body, headers)
    stale = signed_headers(secret, "chg_7_web", body, datetime.now(UTC) - timedelta(minutes=10))
    with pytest.raises(WebhookVerificationError, match="too old"):
        Verifier(secret).verify(body, stale)


# The queue, on a real SQLite file.

@pytest.fixture
def store(tmp_path: Path) -> Iterator[ProfileStore]:
    profile_store = ProfileStore(f"sqlite:///{tmp_path / 'hq.sqlite'}")
    yield profile_store
    profile_store.close()


_CLOCK = HlcClock("hq-api")


def _change(channel: str, shopper: str, sku: str) -> TapEvent:
    stamp = _CLOCK.now()
    return new_event(kind=EventKind.WISHLIST_ADD, store=ONLINE_STORE, kiosk=channel,
                     seq=stamp.wall_ms * 1000 + stamp.counter, session=uuid.uuid4(), shopper=shopper, sku=sku,
                     hlc=str(stamp))


def _heads(store: ProfileStore) -> list[tuple[str, str]]:
    return [(head.change.shopper, head.change.fields["sku"]) for head in store.webhooks.queue.heads("web", 50)]


def test_a_queue_gives_each_shopper_s_oldest_change_and_never_the_webhook_s_own(store: ProfileStore) -> None:
    store.record_many([_change("app", "ana", "SKU-0")])  # before the webhook: not for it
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("web", "ana", "SKU-1"), _change("app", "ana", "SKU-2"), _change("app", "ben", "SKU-3"),
                       _change("app", "ana", "SKU-4"), _change("web", "ben", "SKU-5")])
    assert store.webhooks.queue.scan("web") == 3
    assert store.webhooks.queue.scan("web") == 0  # read once
    assert _heads(store) == [("ana", "SKU-2"), ("ben", "SKU-3")]
    ana, _ = store.webhooks.queue.heads("web", 50)
    store.webhooks.queue.delivered("web", ana.change.cursor)
    assert _heads(store) == [("ben", "SKU-3"), ("ana", "SKU-4")]
    assert store.webhooks.get("web").delivered == 1  # type: ignore[union-attr]


def test_a_parked_change_holds_back_its_shopper_only_until_it_is_retried(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1"), _change("app", "ben", "SKU-2"), _change("app", "ana", "SKU-3")])
    store.webhooks.queue.scan("web")
    ana = store.webhooks.queue.heads("web", 50)[0]
    store.webhooks.queue.park("web", ana.change.cursor, 3, NOW, "answered 410 Gone")
    assert _heads(store) == [("ben", "SKU-2")]
    (status,) = store.webhooks.statuses()
    assert (status.queued, status.parked_now, status.webhook.parked) == (3, 1, 1)
    (parked,) = status.parked_changes
    assert (parked.shopper, parked.kind, parked.attempts, parked.problem, parked.held) == (
        "ana", "wishlist_add", 3, "answered 410 Gone", 1)
    assert store.webhooks.retry("web", cursor=ana.change.cursor + 100) == 0
    assert store.webhooks.retry("web", cursor=ana.change.cursor) == 1
    assert _heads(store) == [("ana", "SKU-1"), ("ben", "SKU-2")]
    assert store.webhooks.queue.heads("web", 50)[0].attempts == 0  # a fresh count

    for head in store.webhooks.queue.heads("web", 50):
        store.webhooks.queue.park("web", head.change.cursor, 20, NOW, "answered 404")
    assert _heads(store) == [] and store.webhooks.statuses()[0].parked_now == 2
    assert store.webhooks.retry("web") == 2  # every parked one
    assert _heads(store) == [("ana", "SKU-1"), ("ben", "SKU-2")]


def test_a_change_waiting_for_its_retry_is_not_due_and_holds_back_its_shopper(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1"), _change("app", "ana", "SKU-2")])
    store.webhooks.queue.scan("web")
    (ana,) = store.webhooks.queue.heads("web", 50)
    store.webhooks.queue.retry_later("web", ana.change.cursor, 1, NOW, datetime.now(UTC) + timedelta(hours=1),
                                     "answered 503")
    assert _heads(store) == []
    assert store.webhooks.get("web").retried == 1  # type: ignore[union-attr]


def test_an_erase_takes_the_shopper_s_queued_changes_parked_ones_too_and_goes_out(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1"), _change("app", "ana", "SKU-2"), _change("app", "ben", "SKU-3")])
    store.webhooks.queue.scan("web")
    ana = store.webhooks.queue.heads("web", 50)[0]
    store.webhooks.queue.park("web", ana.change.cursor, 1, NOW, "answered 400")
    store.erase("ana", by="app")
    store.webhooks.queue.scan("web")
    assert [(h.change.shopper, h.change.kind) for h in store.webhooks.queue.heads("web", 50)] == [
        ("ben", "wishlist_add"), ("ana", "erase")]
    assert store.webhooks.statuses()[0].parked_now == 0


def test_an_erase_between_reading_and_sending_drops_the_forgotten_change(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1")])
    store.webhooks.queue.scan("web")
    store.erase("ana", by="web")  # by the webhook's own channel: the erase is not for it
    assert store.webhooks.queue.heads("web", 50) == []
    store.webhooks.queue.scan("web")
    assert store.webhooks.statuses()[0].queued == 0


def test_one_worker_at_a_time_holds_a_webhook_and_a_released_one_is_taken_at_once(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    queue = store.webhooks.queue
    assert queue.claim("web", "hq-a", 30) is not None
    assert queue.claim("web", "hq-b", 30) is None
    assert queue.claim("web", "hq-a", 30) is not None  # renewed
    queue.release("web", "hq-a")
    assert queue.claim("web", "hq-b", 30) is not None
    assert queue.claim("app", "hq-b", 30) is None  # no such webhook


def test_an_expired_lease_is_taken_over(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    assert store.webhooks.queue.claim("web", "hq-dead", -1) is not None  # a lease that has run out already
    assert store.webhooks.queue.claim("web", "hq-b", 30) is not None


def test_adding_refuses_an_unfit_channel_a_second_webhook_and_removing_drops_the_queue(store: ProfileStore) -> None:
    for channel in ("Web", "kiosk:kiosk-01", "", "-web", "a" * 65):
        with pytest.raises(WebhookRefused, match="not a channel name"):
            store.webhooks.add(channel, "https://shop.example/hooks")
    hook = store.webhooks.add("web", "https://shop.example/hooks")
    assert hook.secret not in repr(hook)
    with pytest.raises(WebhookRefused, match="has a webhook already"):
        store.webhooks.add("web", "https://other.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1")])
    store.webhooks.queue.scan("web")
    assert store.webhooks.remove("web") == 1
    assert store.webhooks.remove("web") is None
    assert store.webhooks.all() == []


def test_the_body_is_the_change_as_the_feed_lists_it(store: ProfileStore) -> None:
    store.webhooks.add("web", "https://shop.example/hooks")
    store.record_many([_change("app", "ana", "SKU-1")])
    store.webhooks.queue.scan("web")
    (head,) = store.webhooks.queue.heads("web", 1)
    (listed,) = store.changes.page(0, 10)
    assert message_body(head.change) == message_body(listed)
    assert '"beside"' not in message_body(head.change)  # a kind's fields that do not apply are left out
