"""Which kiosk events HQ takes into its profiles: pure rules, no I/O.

A kiosk is one device in a shop, and anyone holding its credential can publish on its
topic. So HQ does not take its word for two things:

- its clock: a change stamped more than ``MAX_AHEAD_MS`` ahead of HQ's clock is refused,
  or it would win every merge and drag every later stamp after it (HLC poisoning);
- whose profile it changes: an event that names a shopper must come from a visit in
  which that shopper's HQ-signed card was read at that kiosk. The kiosk sends the card
  token with such events; HQ checks it the first time it sees the visit and keeps a
  card visit (session -> kiosk, shopper), so later events of the visit cost a lookup,
  not a signature check. Version 1 events carry no card and may only be anonymous.

A refused event is not stored, but its kiosk still gets a receipt: resending it would
not make it acceptable.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from hq._store import CardVisit
from kiosk_protocol import MAX_AHEAD_MS, CardRefused, CardVerifier, Hlc, TapEvent


class RefusalKind(enum.Enum):
    """Why HQ refused a well-formed event."""

    CLOCK_AHEAD = "clock_ahead"  # its HLC is too far ahead of HQ's clock
    NO_CARD_PROOF = "no_card_proof"  # it names a shopper whose card was not read in its visit


@dataclass(frozen=True)
class Refused:
    """An event HQ will not store, and why."""

    event: TapEvent
    kind: RefusalKind
    reason: str


@dataclass
class Admission:
    """A batch sorted into what HQ stores and what it refuses."""

    accepted: list[TapEvent] = field(default_factory=list)
    new_visits: list[CardVisit] = field(default_factory=list)  # card visits checked in this batch
    refused: list[Refused] = field(default_factory=list)


def sessions_to_check(events: Iterable[TapEvent]) -> set[str]:
    """The sessions whose card visit HQ must look up before admitting ``events``."""
    return {str(e.session) for e in events if e.shopper is not None}


def admit(events: Iterable[TapEvent], known_visits: Mapping[str, CardVisit], verify_card: CardVerifier | None,
          now_ms: int, max_ahead_ms: int = MAX_AHEAD_MS) -> Admission:
    """Sort ``events`` (in arrival order) into accepted and refused.

    Args:
        known_visits: the card visits already stored for the events' sessions.
        verify_card: checks a card token as of when it was read (see ``CardVerifier``); None
            when HQ has no key to check cards with (then no event may name a shopper).
        now_ms: HQ's wall clock.
    """
    admission = Admission()
    visits = dict(known_visits)
    checked: dict[tuple[str, float], str | CardRefused] = {}  # a card sent again in a batch is checked once

    def card_subject(token: str, read_at: float) -> str | CardRefused:
        if (token, read_at) not in checked:
            try:
                if verify_card is None:
                    raise CardRefused("HQ has no key to check cards")
                checked[token, read_at] = verify_card(token, read_at)
            except CardRefused as exc:
                checked[token, read_at] = exc
        return checked[token, read_at]

    for event in events:
        verdict = _clock_refusal(event, now_ms, max_ahead_ms) or _identity_verdict(event, visits, card_subject,
                                                                                   now_ms)
        if isinstance(verdict, Refused):
            admission.refused.append(verdict)
            continue
        if isinstance(verdict, CardVisit):  # proven by its card just now: later events need only the lookup
            visits[verdict.session] = verdict
            admission.new_visits.append(verdict)
        admission.accepted.append(event)
    return admission


def _clock_refusal(event: TapEvent, now_ms: int, max_ahead_ms: int) -> Refused | None:
    if event.hlc is None:
        return None
    ahead = Hlc.parse(event.hlc).ahead_of(now_ms)
    if ahead <= max_ahead_ms:
        return None
    return Refused(event, RefusalKind.CLOCK_AHEAD,
                   f"its HLC is {ahead / 1000:.0f} s ahead of HQ's clock (at most {max_ahead_ms / 1000:.0f} s)")


def _identity_verdict(event: TapEvent, visits: Mapping[str, CardVisit],
                      card_subject: Callable[[str, float], str | CardRefused],
                      now_ms: int) -> Refused | CardVisit | None:
    """None when the event needs no proof or its visit is proven; a new CardVisit when its card proves it now."""
    if event.shopper is None:
        return None
    session = str(event.session)

    def refused(reason: str) -> Refused:
        return Refused(event, RefusalKind.NO_CARD_PROOF, reason)

    if event.v < 2:
        return refused("a version 1 event may not name a shopper (it carries no card)")
    claimed = CardVisit(session, event.store, event.kiosk, event.shopper)
    known = visits.get(session)
    if known is not None:
        return None if known == claimed else refused("its visit was proven by another shopper's card or kiosk")
    if event.card is None:
        return refused("no card of this shopper was read in its visit")
    # A card that expired while the visit waited in an offline kiosk's outbox still proves it;
    # a kiosk cannot claim to have read a card later than now.
    subject = card_subject(event.card, min(event.at.timestamp(), now_ms / 1000))
    if isinstance(subject, CardRefused):
        return refused(f"the card is refused: {subject}")
    if subject != event.shopper:
        return refused("the card names another shopper")
    return claimed

