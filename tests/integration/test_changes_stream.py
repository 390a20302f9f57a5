"""The change feed live as Server-Sent Events, over a real socket: a change made after the
stream opened arrives, a client resumes by Last-Event-ID after a disconnect and after HQ
restarts on the same PostgreSQL without losing or repeating one, keep-alives hold the
stream past the request timeouts, the connection cap still holds, and a client that goes
away frees its stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from hq import ApiKeys, ApiServer, ChangeFeed, HttpLimits, ProfileStore, create_app
from kiosk_app.demo import free_port
from testkit.event_stream import EventStream
from testkit.waiting import eventually

KEYS = {"web": "web-key-0123456789abcdef"}
WEB = {"X-Api-Key": KEYS["web"]}
SHOPPER = "shopper-0042"


class Hq:
    """HQ's API on a real socket, with its change feed at hand."""

    def __init__(self, url: str, port: int | None = None, limits: HttpLimits | None = None,
                 keepalive_s: float = 15.0) -> None:
        self.store = ProfileStore(url)
        self.feed = ChangeFeed(self.store.changes, keepalive_s=keepalive_s)
        self.server = ApiServer(create_app(self.store, ApiKeys(KEYS), changes=self.feed), port=port or free_port(),
                                limits=limits)
        self.server.start()
        self.client = httpx.Client(base_url=self.server.url, headers=WEB, timeout=20)

    def set_size(self, size: int) -> int:
        """Set a preference; returns the cursor of its change."""
        assert self.client.put(f"/v1/shoppers/{SHOPPER}/preferences/size", json={"value": str(size)}).is_success
        return self.store.changes.latest()

    def stream(self, params: dict[str, int] | None = None, **headers: str) -> EventStream:
        stream = EventStream(self.server.url, {**WEB, **headers}, params)
        assert stream.next() == {"comment": "changes", "retry": "1000"}  # open, and following the log
        return stream

    def stop(self) -> None:
        self.client.close()
        self.feed.close()  # as `kiosk hq serve` does: the open streams end, then the server stops
        self.server.stop()
        self.store.close()


@pytest.fixture
def hq(sqlite_url: str) -> Iterator[Hq]:
    server = Hq(sqlite_url)
    yield server
    server.stop()


def test_a_change_made_after_the_stream_opened_arrives(hq: Hq) -> None:
    earlier = hq.set_size(40)
    stream = hq.stream(**{"Last-Event-ID": str(earlier)})
    try:
        cursor = hq.set_size(41)
        change = stream.next_change()
        assert change["cursor"] == cursor > earlier
        assert {k: change[k] for k in ("shopper", "kind", "channel", "key", "value")} == {
            "shopper": SHOPPER, "kind": "preference", "channel": "web", "key": "size", "value": "41"}
        assert "sku" not in change and "display_name" not in change  # only its kind's fields
    finally:
        stream.close()


def test_a_client_resumes_after_a_disconnect_without_loss_or_repeats(hq: Hq) -> None:
    first = [hq.set_size(size) for size in (40, 41, 42)]
    stream = hq.stream()  # from the start: after 0
    try:
        assert [stream.next_change()["cursor"] for _ in first] == first
    finally:
        stream.close()
    missed = [hq.set_size(size) for size in (43, 44)]
    stream = hq.stream(**{"Last-Event-ID": str(first[-1])})
    try:
        assert [stream.next_change()["value"] for _ in missed] == ["43", "44"]
        later = hq.set_size(45)
        assert stream.next_change()["cursor"] == later  # nothing repeated or extra in between
    finally:
        stream.close()


def test_a_stream_starts_after_its_query_s_cursor_unless_last_event_id_names_a_later_one(hq: Hq) -> None:
    cursors = [hq.set_size(size) for size in (40, 41, 42)]
    with httpx.Client(base_url=hq.server.url, headers=WEB, timeout=20) as client, client.stream(
            "GET", "/v1/changes/stream", params={"after": cursors[0]}) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        wire = [next(lines) for _ in range(7)]
    change = json.loads(wire[4].removeprefix("data: "))
    assert wire == [": changes", "retry: 1000", "", "event: change", wire[4], f"id: {cursors[1]}", ""]
    assert (change["cursor"], change["value"]) == (cursors[1], "41")
    stream = hq.stream({"after": cursors[0]}, **{"Last-Event-ID": str(cursors[1])})  # a reconnect of that stream
    try:
        assert stream.next_change()["cursor"] == cursors[2]
    finally:
        stream.close()


def test_a_client_resumes_after_hq_restarts_on_the_same_database(postgres_url: str) -> None:
    hq = Hq(postgres_url)
    port = int(hq.server.url.rsplit(":", 1)[1])
    stream = hq.stream()
    try:
        seen = [hq.set_size(40), hq.set_size(41)]
        assert [stream.next_change()["cursor"] for _ in seen] == seen
        hq.feed.close()  # HQ stopping: the stream ends, cleanly, before the server does
        with pytest.raises(EOFError):
            stream.next()
    finally:
        stream.close()
        hq.stop()
    restarted = Hq(postgres_url, port=port)
    try:
        missed = [restarted.set_size(42), restarted.set_size(43)]
        stream = restarted.stream(**{"Last-Event-ID": str(seen[-1])})
        try:
            assert [stream.next_change()["cursor"] for _ in missed] == missed
            assert missed[0] > seen[-1]
            later = restarted.set_size(44)
            assert stream.next_change()["cursor"] == later  # nothing repeated or extra in between
        finally:
            stream.close()
    finally:
        restarted.stop()


def test_keep_alives_hold_a_quiet_stream_open_past_the_request_timeouts(sqlite_url: str) -> None:
    limits = HttpLimits(header_timeout_s=0.3, body_timeout_s=0.3)
    hq = Hq(sqlite_url, limits=limits, keepalive_s=0.1)
    try:
        stream = hq.stream()
        try:
            opened, keep_alives = time.monotonic(), 0
            while time.monotonic() - opened < 4 * limits.header_timeout_s:  # reading what arrives, not sleeping
                assert stream.next() == {"comment": "keep-alive"}
                keep_alives += 1
            assert keep_alives >= 3
            cursor = hq.set_size(40)
            assert stream.next_change()["cursor"] == cursor  # still following the log
        finally:
            stream.close()
        assert hq.server.stats.header_timeouts == hq.server.stats.body_timeouts == 0
    finally:
        hq.stop()


def test_streams_count_towards_the_connection_cap_and_a_client_that_leaves_frees_its_stream(
        sqlite_url: str) -> None:
    hq = Hq(sqlite_url, limits=HttpLimits(max_connections=3))
    try:
        hq.client.get("/v1/health")  # the test's own client holds one connection
        streams = [hq.stream(), hq.stream()]
        assert hq.feed.open_streams == 2
        with httpx.Client(timeout=20) as other:
            assert other.get(f"{hq.server.url}/v1/health").status_code == 503  # past the cap
        for stream in streams:
            stream.close()
        assert eventually(lambda: hq.feed.open_streams == 0, 10)
        with httpx.Client(timeout=20) as other:
            assert eventually(lambda: other.get(f"{hq.server.url}/v1/health").status_code == 200, 10)
        cursor = hq.set_size(40)
        stream = hq.stream(**{"Last-Event-ID": str(cursor - 1)})
        try:
            assert stream.next_change()["cursor"] == cursor  # the feed polls again for a new stream
        finally:
            stream.close()
    finally:
        hq.stop()
