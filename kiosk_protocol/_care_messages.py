"""Remote care: what HQ's staff may ask of one kiosk from the dashboard, and its answer.

    HQ -> kiosk   CareRequest    kiosk/<store>/<kiosk>/care/request
    kiosk -> HQ   CareResponse   kiosk/<store>/<kiosk>/care/response

A kiosk answers a screenshot only while no shopper is signed in at it (``in_use``
otherwise: their name, wishlist and orders are on its screen), and the last lines of its
own log. Each kiosk reads and writes only its own two topics, so no kiosk can answer for
another; HQ matches an answer to its question by ``request_id`` and by the topic it came on.
"""

from __future__ import annotations

import enum
import uuid
from typing import Annotated, ClassVar, Literal

from pydantic import Base64Bytes, BaseModel, ConfigDict, Field

from kiosk_protocol.contract import MAX_MANIFEST_BYTES, Id, _checked_id

MAX_LOG_LINES = 500  # a kiosk keeps this many of its last log lines for HQ to ask for
MAX_LOG_LINE = 2000  # characters of one line it sends; a longer one is cut
CARE_RESPONSES_WILDCARD = "kiosk/+/+/care/response"


class CareAsk(enum.Enum):
    SCREENSHOT = "screenshot"  # the screen as a PNG
    LOGS = "logs"  # the last lines of the kiosk's log


class CareOutcome(enum.Enum):
    DONE = "done"
    IN_USE = "in_use"  # a shopper is signed in: the screen is theirs
    FAILED = "failed"  # the kiosk could not do it: ``detail`` says why


class CareTopics:
    """The remote-care topics of one kiosk."""

    def __init__(self, store: str, kiosk: str) -> None:
        base = f"kiosk/{_checked_id(store)}/{_checked_id(kiosk)}/care"
        self.request, self.response = f"{base}/request", f"{base}/response"


class CareRequest(BaseModel):
    """HQ asks one kiosk for a screenshot or its last ``lines`` log lines."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = 1024

    v: Literal[1] = 1
    request_id: uuid.UUID
    ask: CareAsk
    lines: Annotated[int, Field(ge=1, le=MAX_LOG_LINES)] = 100


class CareResponse(BaseModel):
    """The kiosk's answer: a PNG, log lines, or why neither."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_bytes: ClassVar[int] = MAX_MANIFEST_BYTES  # within the broker's packet limit: the PNG is scaled to fit

    v: Literal[1] = 1
    request_id: uuid.UUID
    store: Id
    kiosk: Id
    ask: CareAsk
    outcome: CareOutcome
    detail: Annotated[str, Field(max_length=500)] = ""
    png: Base64Bytes | None = None
    lines: Annotated[list[Annotated[str, Field(max_length=MAX_LOG_LINE)]], Field(max_length=MAX_LOG_LINES)] = []
