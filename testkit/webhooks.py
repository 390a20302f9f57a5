"""A real webhook receiver: an HTTP server on a free port of 127.0.0.1, in a thread, that checks
every request's Standard Webhooks signature with ``standardwebhooks`` and answers as the
test says, the hostile ways included: hang, trickle its head, redirect, flood a body.

``stop`` closes its socket (the sender then meets a refused connection) and ``start``
listens on the same port again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

_MAX_BODY = 1 << 20
_FLOOD_CHUNK = b"x" * 65536


@dataclass(frozen=True)
class Answer:
    """How the receiver answers one request."""

    status: int = 204
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # answer nothing until the receiver is released or stopped
    trickle: bool = False  # send the head one header line at a time, for ever
    flood_bytes: int = 0  # announce and send a body this large (until the sender hangs up)


@dataclass(frozen=True)
class Attempt:
    """One request the receiver took, signed rightly (``change``) or not (``refused``)."""

    webhook_id: str
    timestamp: str
    headers: dict[str, str]  # by lowercase name
    body: bytes
    change: dict[str, Any] | None
    refused: str = ""
    answered: int = 0  # the status it was given (0: none, the receiver hung or flooded)

    @property
    def delivered(self) -> bool:
        """Whether the receiver took it: signed rightly and answered 2xx."""
        return self.change is not None and 200 <= self.answered < 300


class WebhookReceiver:
    """Takes webhook requests on ``url`` and keeps every attempt in ``attempts``, in arrival order."""

    def __init__(self, secret: str, port: int = 0, path: str = "/hooks") -> None:
        self.verifier = Webhook(secret)
        self.port, self.path = port, path
        self.attempts: list[Attempt] = []
        self.answer: Callable[[Attempt], Answer] = lambda attempt: Answer()
        self.flooded = 0  # body bytes sent by flood answers, all told
        self.flood_ended = threading.Event()  # a flood answer stopped sending (the sender hung up, or all sent)
        self.released = threading.Event()
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the receiver listens (its port is fixed once it first started)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def start(self) -> WebhookReceiver:
        """Listen (again, on the same port once it has one)."""
        self.released.clear()
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook-receiver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused from now on; hanging answers end."""
        self.released.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def delivered(self) -> list[dict[str, Any]]:
        """The changes taken (signed rightly, answered 2xx), in arrival order."""
        with self._changed:
            return [a.change for a in self.attempts if a.delivered and a.change is not None]

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
        """Wait until ``condition`` holds, checked at each attempt the receiver takes."""
        with self._changed:
            return self._changed.wait_for(condition, timeout_s)

    def _took(self, attempt: Attempt) -> None:
        with self._changed:
            self.attempts.append(attempt)
            self._changed.notify_all()


def _handler(receiver: WebhookReceiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(min(int(self.headers.get("content-length", "0")), _MAX_BODY))
            headers = {name.lower(): value for name, value in self.headers.items()}
            try:
                change, refused = receiver.verifier.verify(body, headers), ""
            except (WebhookVerificationError, ValueError) as exc:
                change, refused = None, str(exc) or type(exc).__name__
            attempt = Attempt(headers.get("webhook-id", ""), headers.get("webhook-timestamp", ""), headers, body,
                              change, refused)
            answer = receiver.answer(attempt)
            if answer.hang:
                receiver._took(attempt)
                receiver.released.wait()
                return
            if answer.trickle:
                receiver._took(attempt)
                self._trickle()
                return
            receiver._took(_answered(attempt, answer.status))
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(answer.flood_bytes))
                self.end_headers()
                self._flood(answer.flood_bytes)
            except OSError:
                pass  # the sender hung up, as it should on a flood

        def _trickle(self) -> None:
            try:
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                while not receiver.released.wait(0.05):  # one more header line now and then, never the end
                    self.wfile.write(b"x-still-coming: yes\r\n")
                    self.wfile.flush()
            except OSError:
                pass

        def _flood(self, size: int) -> None:
            try:
                while size > 0:
                    chunk = _FLOOD_CHUNK[:size]
                    self.wfile.write(chunk)
                    receiver.flooded += len(chunk)
                    size -= len(chunk)
            finally:
                if size or receiver.flooded:
                    receiver.flood_ended.set()

    return Handler


def _answered(attempt: Attempt, status: int) -> Attempt:
    return Attempt(attempt.webhook_id, attempt.timestamp, attempt.headers, attempt.body, attempt.change,
                   attempt.refused, status)


def change_of(attempt: Attempt) -> dict[str, Any]:
    """The change an attempt carried, signed rightly or not."""
    return dict(json.loads(attempt.body))
