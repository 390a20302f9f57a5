"""HQ's side of remote care: ask one kiosk for a screenshot or its last log lines, and wait
for its answer (``kiosk_protocol._care_messages``).

An answer counts only on the topic of the kiosk it was asked of and for a question still
waiting: a kiosk can write only its own topics, so none can answer for another, and a
late or unasked-for answer is dropped and counted.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from kiosk_protocol import CareAsk, CareOutcome, CareRequest, CareResponse, CareTopics, ContractError, decode

log = logging.getLogger(__name__)

ANSWER_WITHIN_S = {CareAsk.SCREENSHOT: 20.0, CareAsk.LOGS: 10.0}  # a small board takes seconds to make a PNG


class CareRefused(Exception):
    """No screenshot or log lines: the kiosk is in use, failed, or did not answer in time."""

    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.error, self.detail = status, error, detail


@dataclass
class _Question:
    store: str
    kiosk: str
    answered: threading.Event = field(default_factory=threading.Event)
    answer: CareResponse | None = None


class CareDesk:
    """Questions to kiosks waiting for their answers.

    Args:
        publish: sends a payload to a topic and waits for the broker to take it, with the
            seconds it may wait there for an offline kiosk (``FleetView``'s client).
    """

    def __init__(self, publish: Callable[[str, bytes, int], None]) -> None:
        self._publish = publish
        self._waiting: dict[uuid.UUID, _Question] = {}
        self._lock = threading.Lock()
        self.refused_answers = 0  # malformed, on the wrong topic, or for no question waiting

    def ask(self, store: str, kiosk: str, ask: CareAsk, lines: int = 100,
            timeout_s: float | None = None) -> CareResponse:
        """Ask kiosk ``store``/``kiosk`` and wait for its answer.

        Raises:
            CareRefused: ``in_use`` (409: a shopper is signed in), ``kiosk_failed`` (502),
                ``no_answer`` (504: nothing within the time).
            SyncError: the broker did not take the question.
        """
        timeout_s = ANSWER_WITHIN_S[ask] if timeout_s is None else timeout_s
        request = CareRequest(request_id=uuid.uuid4(), ask=ask, lines=lines)
        question = _Question(store, kiosk)
        with self._lock:
            self._waiting[request.request_id] = question
        try:
            # Expires at the broker with the wait: an offline kiosk must not answer it hours later.
            self._publish(CareTopics(store, kiosk).request, request.model_dump_json().encode(), max(1, int(timeout_s)))
            question.answered.wait(timeout_s)
        finally:
            with self._lock:
                del self._waiting[request.request_id]
        answer = question.answer
        if answer is None:
            raise CareRefused(504, "no_answer", f"kiosk {store}/{kiosk} did not answer within {timeout_s:g} s")
        if answer.outcome is CareOutcome.IN_USE:
            raise CareRefused(409, "in_use", f"kiosk {store}/{kiosk} is in use: {answer.detail}")
        if answer.outcome is CareOutcome.FAILED:
            raise CareRefused(502, "kiosk_failed", f"kiosk {store}/{kiosk} could not: {answer.detail}")
        return answer

    def heard(self, topic: str, payload: bytes) -> None:
        """A kiosk's answer arrived on ``topic`` (from the broker's thread)."""
        try:
            answer = decode(CareResponse, payload)
            if topic != CareTopics(answer.store, answer.kiosk).response:
                raise ContractError(f"an answer of {answer.store}/{answer.kiosk} arrived on {topic!r}")
        except ContractError as exc:
            self._refuse(topic, str(exc))
            return
        with self._lock:
            question = self._waiting.get(answer.request_id)
            waiting = question is not None and question.answer is None \
                and (question.store, question.kiosk) == (answer.store, answer.kiosk)
            if waiting and question is not None:
                question.answer = answer
                question.answered.set()
        if not waiting:
            self._refuse(topic, "no question of this kiosk waits for it")

    def _refuse(self, topic: str, why: str) -> None:
        self.refused_answers += 1
        log.warning("ignored a care answer on %s: %s", topic, why)
