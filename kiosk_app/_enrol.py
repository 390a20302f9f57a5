"""A new kiosk enrols itself (HQ's side: ``hq/_enrolment.py``): it asks HQ for a code over
HTTPS, trusting only the certificate pinned in its install, shows the code, waits for staff
to approve it on the dashboard, and writes what HQ then hands it to the files its systemd
unit reads. Nobody types a secret into it.

Written into the settings folder (``/etc/kiosk``):

- ``broker.url`` (owner only): its own broker login, ``mqtts://...?ca=<folder>/broker-ca.crt``;
- ``broker-ca.crt``, ``hq_public_key.pem``;
- ``enrolled.env``: ``KIOSK_STORE``, ``KIOSK_ID`` and ``KIOSK_FILES_URL``, for the unit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit

import requests
from cryptography import x509
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kiosk_protocol import public_key_from_pem, write_atomically

BROKER_URL_FILE = "broker.url"
_ID = r"^[a-z0-9][a-z0-9-]{0,63}$"
_TIMEOUT_S = 10.0
_Model = TypeVar("_Model", bound=BaseModel)


class EnrolmentFailed(Exception):
    """The kiosk could not enrol; the message says why and what to do."""


class _Begun(BaseModel):
    enrolment: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    code: Annotated[str, Field(pattern=r"^[A-Z0-9]{4}-[A-Z0-9]{4}$")]
    token: Annotated[str, Field(min_length=20, max_length=100)]
    expires_at: datetime


class _Settings(BaseModel):
    """What HQ hands an approved kiosk, checked before any of it is written (an env file takes no newline)."""

    model_config = ConfigDict(extra="ignore")
    state: Literal["approved"]
    store: Annotated[str, Field(pattern=_ID)]
    kiosk: Annotated[str, Field(pattern=_ID)]
    broker_url: Annotated[str, Field(pattern=r"^mqtts://[^\s?#]+$", max_length=500)]
    broker_ca: Annotated[str, Field(max_length=20_000)]
    hq_public_key: Annotated[str, Field(max_length=2_000)]
    files_url: Annotated[str, Field(pattern=r"^https?://[^\s]+$", max_length=500)]

    @field_validator("broker_ca")
    @classmethod
    def _a_certificate(cls, pem: str) -> str:
        x509.load_pem_x509_certificate(pem.encode())
        return pem

    @field_validator("hq_public_key")
    @classmethod
    def _a_public_key(cls, pem: str) -> str:
        public_key_from_pem(pem.encode())
        return pem


@dataclass(frozen=True)
class Enrolled:
    """Where HQ placed this kiosk, and the files its settings are in."""

    store: str
    kiosk: str
    folder: Path


def enrol(hq_url: str, pinned_cert: Path, folder: Path, on_code: Callable[[str, datetime], None],
          poll_s: float = 2.0, stop: threading.Event | None = None) -> Enrolled:
    """Enrol this kiosk with the HQ at ``hq_url`` (https), trusting only ``pinned_cert``.

    Raises:
        EnrolmentFailed: HQ is not the pinned one, refused, or nobody approved the code in
            time; nothing is written then.
    """
    if urlsplit(hq_url).scheme != "https":
        raise EnrolmentFailed(f"HQ is reached over https only, not {hq_url!r}: the settings hold a password")
    if (folder / BROKER_URL_FILE).exists():
        raise EnrolmentFailed(f"this kiosk is enrolled already ({folder / BROKER_URL_FILE}); remove it to enrol again")
    waiting = stop or threading.Event()
    # This certificate (or CA) only, not the system's: given on each request, which a
    # REQUESTS_CA_BUNDLE in the environment would otherwise override.
    trusted = str(pinned_cert)
    with requests.Session() as http:
        begun = _parsed(_Begun, _call(lambda: http.post(f"{hq_url}/v1/enrolments", timeout=_TIMEOUT_S,
                                                        verify=trusted)), 201)
        on_code(begun.code, begun.expires_at)
        while True:
            answer = _call(lambda: http.get(f"{hq_url}/v1/enrolments/{begun.enrolment}", timeout=_TIMEOUT_S,
                                            headers={"Authorization": f"Bearer {begun.token}"}, verify=trusted))
            if answer.status_code != 202:
                break
            if waiting.wait(poll_s):
                raise EnrolmentFailed("enrolment stopped before the code was approved")
    settings = _parsed(_Settings, answer, 200)
    _write(folder, settings)
    return Enrolled(settings.store, settings.kiosk, folder)


def _write(folder: Path, settings: _Settings) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ca = folder / "broker-ca.crt"
    write_atomically(ca, settings.broker_ca.encode(), mode=0o644)
    write_atomically(folder / "hq_public_key.pem", settings.hq_public_key.encode(), mode=0o644)
    write_atomically(folder / "enrolled.env", (f"KIOSK_STORE={settings.store}\nKIOSK_ID={settings.kiosk}\n"
                                               f"KIOSK_FILES_URL={settings.files_url}\n").encode(), mode=0o644)
    write_atomically(folder / BROKER_URL_FILE, f"{settings.broker_url}?ca={ca}\n".encode())  # last: it says "enrolled"


def _call(request: Callable[[], requests.Response]) -> requests.Response:
    try:
        return request()
    except requests.exceptions.SSLError as exc:
        raise EnrolmentFailed(f"HQ's certificate is not the one this kiosk trusts, so nothing was sent: {exc}") from exc
    except requests.RequestException as exc:
        raise EnrolmentFailed(f"HQ is out of reach: {exc}") from exc


def _parsed(model: type[_Model], answer: requests.Response, expected: int) -> _Model:
    """HQ's answer as ``model``, or EnrolmentFailed saying what HQ said instead."""
    if answer.status_code != expected:
        try:
            said = answer.json().get("detail", answer.text[:200])
        except (ValueError, AttributeError):
            said = answer.text[:200]
        raise EnrolmentFailed(f"HQ answered {answer.status_code}: {said}")
    try:
        return model.model_validate_json(answer.content)
    except ValidationError as exc:
        raise EnrolmentFailed(f"HQ's answer is not what a kiosk expects: {exc}") from exc
