"""Errors HQ raises on purpose, one tree under :class:`HqError`.

::

    HqError
     ├── ApiRefusal        a request the API answers with an error (HTTP status, stable code, detail)
     ├── HandoffRefused    a phone's hand-off link HQ will not take (``.reason``: malformed, forged, expired, used)
     ├── CredentialsError  API keys, broker credentials or the broker's CA missing or unfit
     ├── ClusterError      ingest workers that cannot run as asked, or did not subscribe in time
     ├── ImportRejected    a catalog import file with problems (``.problems``); nothing imported
     ├── PublishRefused    a catalog or model version HQ will not sign or announce; nothing published
 ├── RolloutRefused    a rollout that cannot start, halt or resume as asked; nothing changed
     └── SchemaOutOfDate   a database whose schema is not this release's (``kiosk hq db upgrade``); untouched

Errors of the shared parts HQ uses pass through as they are: a broker out of reach is
``kiosk_protocol.SyncError`` (backend_sync's MQTT helpers), a store or kiosk id that the
wire contract refuses is ``kiosk_protocol.ContractError``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_MAX_REPORTED = 50  # import problems listed in the message; ``.problems`` holds them all


class HqError(Exception):
    """Base of every error HQ raises on purpose."""


class ApiRefusal(HqError):
    """A request HQ answers with an error; becomes an ``ApiError`` body."""

    def __init__(self, status: int, error: str, detail: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail, self.headers = status, error, detail, headers


class Refused(HqError):
    """Something HQ will not do, in the words its API answers with: ``status`` (HTTP), ``error`` (the code)."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


class LinkRefusal(enum.Enum):
    """Why a hand-off link is not taken."""

    MALFORMED = "malformed"  # not a token at all
    FORGED = "forged"  # not sealed by HQ's key, or changed since
    EXPIRED = "expired"
    USED = "used"  # another phone opened it first


class HandoffRefused(HqError):
    """A hand-off link HQ will not take, and why; nothing was changed."""

    def __init__(self, reason: LinkRefusal, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class CredentialsError(HqError):
    """Credentials HQ cannot read or issue: an API key file, a connection's URL file, the broker's CA."""


class ClusterError(HqError):
    """An ingest cluster that cannot run as asked, or a worker that did not subscribe in time."""


@dataclass(frozen=True)
class ImportProblem:
    """One thing wrong with an import file."""

    where: str  # "line 12, price" or "products.3.sku"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class ImportRejected(HqError):
    """An import file with problems; nothing was changed."""

    def __init__(self, path: Path, problems: list[ImportProblem]) -> None:
        shown = "\n".join(f"  {p}" for p in problems[:_MAX_REPORTED])
        more = f"\n  ... and {len(problems) - _MAX_REPORTED} more" if len(problems) > _MAX_REPORTED else ""
        super().__init__(f"{path}: {len(problems)} problem(s), nothing imported\n{shown}{more}")
        self.problems = problems


class PublishRefused(HqError):
    """A catalog or model version HQ will not publish: an invalid catalog, an unknown store,
    an image that is missing or too large, a manifest too large to announce."""


class RolloutRefused(HqError):
    """A rollout that cannot start (another is unfinished, no canary...), halt or resume as asked."""


class WebhookRefused(HqError):
    """A webhook HQ will not register or change: a channel name or URL it refuses (non-http(s),
    credentials in it, plain http off this host...), or a channel that already has one."""


class SchemaOutOfDate(HqError):
    """The database's schema is not the one this HQ release works with; nothing in it was changed."""
