"""A real SMTP server (aiosmtpd) on a free port, in a thread, that keeps every message it took
and answers as the test says: refuse a recipient, fail for now, demand a login, offer
STARTTLS with a given certificate, or offer none."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kiosk_app.demo import free_port


class Inbox:
    """An SMTP server on ``host``:``port``; ``messages`` holds what it took, in arrival order."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, login: tuple[str, str] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.host = host
        self.messages: list[EmailMessage] = []
        self.recipients: list[list[str]] = []
        self.over_tls: list[bool] = []  # for each message, whether it came after STARTTLS
        self.logins: list[str] = []  # who logged in, rightly
        self.refused_logins = 0
        self.answer_rcpt: Callable[[str], str] = lambda address: "250 OK"
        self._changed = threading.Condition()
        self._login = login
        options: dict[str, Any] = {"auth_require_tls": False} if tls is None else {"tls_context": tls,
                                                                                     "require_starttls": False}
        if login is not None:
            options["authenticator"] = self._authenticate
        self._controller = Controller(self, hostname=host, port=port or free_port(), server_hostname=host, **options)

    def start(self) -> Inbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def port(self) -> int:
        return int(self._controller.port)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float = 30.0) -> bool:
        """Wait until ``condition`` holds, checked at each message the server takes."""
        with self._changed:
            return self._changed.wait_for(condition, timeout_s)

    # aiosmtpd's handler hooks.

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        said = self.answer_rcpt(address)
        if said.startswith("250"):
            envelope.rcpt_tos.append(address)
        return said

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self._changed:
            self.messages.append(message)
            self.recipients.append(list(envelope.rcpt_tos))
            self.over_tls.append(session.ssl is not None)
            self._changed.notify_all()
        return "250 Message accepted for delivery"

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self._login is not None \
                and (auth_data.login.decode(), auth_data.password.decode()) == self._login:
            self.logins.append(auth_data.login.decode())
            return AuthResult(success=True)
        self.refused_logins += 1
        return AuthResult(success=False, handled=False)
