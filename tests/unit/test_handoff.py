"""Hand-off links in milliseconds: sealed and opened by HQ's key, refused when forged,
tampered with or foreign; signed for a shopper only on their card; the phone's language;
the kiosk's keeping of the visit's link; the wire messages."""

from __future__ import annotations

import base64
import os
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hq import (
    CredentialsError,
    HandoffClaims,
    HandoffKey,
    HandoffRefused,
    HandoffSigner,
    LinkRefusal,
    render_acl,
)
from hq._phone_texts import TEXTS, pick_language
from kiosk_app._handoff import RENEW_BEFORE_S, HandoffLinks
from kiosk_app.session import Visit
from kiosk_protocol import CardRefused, ContractError, HandoffRequest, HandoffResponse, decode

SESSION = uuid.UUID("6f0e3c52-6a0b-4c1e-9c52-27d1f3a4b5c6")
CLAIMS = HandoffClaims("madrid-centro", "kiosk-01", SESSION, "shopper-0042", 1_900_000_000, "ab" * 16)
KEY = HandoffKey(bytes(range(32)))
NOW = 1_800_000_000.0

# (Accept-Language, ?lang=, the page's language)
LANGUAGES = [
    (None, None, "es"),
    ("en-GB,en;q=0.9", None, "en"),
    ("fr-FR,fr;q=0.9,en;q=0.8,es;q=0.7", None, "en"),
    ("en;q=0.2,es;q=0.8", None, "es"),
    ("de, en;q=0", None, "es"),  # q=0: not wanted at all
    ("en-US", "es", "es"),  # the page's own ?lang= wins (the kiosk's language, or the switch)
    (None, "en", "en"),
    ("en", "xx", "en"),  # an unknown ?lang= is ignored
    ("es;q=abc, en", None, "en"),  # a broken q drops only its own entry
]


def _verifier(holder: str) -> Callable[[str], str]:
    def verify(token: str) -> str:
        if token != "card-of-" + holder:
            raise CardRefused("not HQ's signature")
        return holder

    return verify


def test_a_sealed_link_opens_to_what_was_sealed_and_hides_it() -> None:
    token = KEY.seal(CLAIMS)
    assert KEY.open(token) == CLAIMS
    assert b"shopper-0042" not in base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert len(token) < 200  # it goes in a QR code
    assert KEY.seal(CLAIMS) != token  # a fresh IV each time


def test_an_anonymous_link_names_nobody() -> None:
    anonymous = HandoffClaims("madrid-centro", "kiosk-01", SESSION, None, 1_900_000_000, "cd" * 16)
    assert KEY.open(KEY.seal(anonymous)).shopper is None


@pytest.mark.parametrize("position", [0, 5, 20, 60, -1])
def test_a_link_changed_anywhere_is_forged(position: int) -> None:
    token = KEY.seal(CLAIMS)
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[position] ^= 0x01
    tampered = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(HandoffRefused) as refused:
        KEY.open(tampered)
    assert refused.value.reason is LinkRefusal.FORGED


def test_a_link_of_another_key_is_forged() -> None:
    with pytest.raises(HandoffRefused) as refused:
        HandoffKey(os.urandom(32)).open(KEY.seal(CLAIMS))
    assert refused.value.reason is LinkRefusal.FORGED


@pytest.mark.parametrize("token", ["", "short", "x" * 1000, "not/base64url!" * 5, "A" * 41])
def test_what_is_no_token_at_all_is_malformed_or_forged(token: str) -> None:
    with pytest.raises(HandoffRefused) as refused:
        KEY.open(token)
    assert refused.value.reason in (LinkRefusal.MALFORMED, LinkRefusal.FORGED)


def test_the_key_file_is_made_readable_by_its_owner_only_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "handoff.key"
    first = HandoffKey.from_file(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert HandoffKey.from_file(path).open(first.seal(CLAIMS)) == CLAIMS  # the same key, not a new one
    assert [p.name for p in tmp_path.iterdir()] == ["handoff.key"]


def test_a_key_file_others_can_read_or_that_holds_no_key_is_refused(tmp_path: Path) -> None:
    wide = tmp_path / "wide.key"
    wide.write_text("00" * 32)
    wide.chmod(0o644)
    with pytest.raises(CredentialsError, match="readable by others"):
        HandoffKey.from_file(wide)
    short = tmp_path / "short.key"
    short.write_text("abcd")
    short.chmod(0o600)
    with pytest.raises(CredentialsError):
        HandoffKey.from_file(short)


def test_the_signer_links_the_visit_of_the_topic_s_kiosk_for_ten_minutes() -> None:
    signer = HandoffSigner(KEY, "https://shop.example.com/", _verifier("shopper-0042"), clock=lambda: NOW)
    response = signer.answer("madrid-centro", "kiosk-01", HandoffRequest(request_id=uuid.uuid4(), session=SESSION))
    assert response.error is None and response.url is not None
    assert response.url.startswith("https://shop.example.com/h/")
    assert response.expires_at == datetime.fromtimestamp(NOW + 600, UTC)
    claims = KEY.open(response.url.rsplit("/", 1)[1])
    assert (claims.store, claims.kiosk, claims.session, claims.shopper) == ("madrid-centro", "kiosk-01", SESSION, None)


def test_the_signer_names_a_shopper_only_on_their_own_card() -> None:
    signer = HandoffSigner(KEY, "https://shop.example.com", _verifier("shopper-0042"), clock=lambda: NOW)
    own = HandoffRequest(request_id=uuid.uuid4(), session=SESSION, shopper="shopper-0042",
                         token="card-of-shopper-0042")
    answer = signer.answer("madrid-centro", "kiosk-01", own)
    assert answer.url is not None and KEY.open(answer.url.rsplit("/", 1)[1]).shopper == "shopper-0042"
    for shopper, token in (("shopper-0042", "forged-card"), ("shopper-9999", "card-of-shopper-0042")):
        refused = signer.answer("madrid-centro", "kiosk-01", HandoffRequest(
            request_id=uuid.uuid4(), session=SESSION, shopper=shopper, token=token))
        assert refused.url is None and refused.error


def test_the_signer_refuses_a_public_url_that_is_no_address() -> None:
    for url in ("shop.example.com", "javascript:alert(1)", "https://", "https://shop.example.com/?x=1"):
        with pytest.raises(CredentialsError):
            HandoffSigner(KEY, url, _verifier("x"))


def test_a_request_names_a_shopper_with_their_card_or_nobody() -> None:
    with pytest.raises(ContractError):
        decode(HandoffRequest, f'{{"request_id": "{uuid.uuid4()}", "session": "{SESSION}", '
                               '"shopper": "shopper-0042"}'.encode())
    with pytest.raises(ContractError):
        decode(HandoffRequest, f'{{"request_id": "{uuid.uuid4()}", "session": "{SESSION}", "token": "t"}}'.encode())
    with pytest.raises(ContractError):  # HQ's answer carries a web address, nothing else
        decode(HandoffResponse, f'{{"request_id": "{uuid.uuid4()}", "url": "javascript:alert(1)"}}'.encode())


@pytest.mark.parametrize(("accept", "asked", "language"), LANGUAGES)
def test_the_page_speaks_the_shopper_s_language(accept: str | None, asked: str | None, language: str) -> None:
    assert pick_language(asked, accept) == language


def test_every_phone_text_is_in_both_languages() -> None:
    assert set(TEXTS["es"]) == set(TEXTS["en"])
    assert all(TEXTS["es"][key] != TEXTS["en"][key] or key.startswith("duration") for key in TEXTS["es"])


class _Hq:
    """HQ as the kiosk's link sees it: answers each request when told to."""

    def __init__(self) -> None:
        self.asked: list[tuple[uuid.UUID, str | None, str | None]] = []
        self.answers: list[HandoffResponse | None] = []
        self.called = threading.Event()
        self.release = threading.Event()

    def request(self, session: uuid.UUID, shopper: str | None, card: str | None) -> HandoffResponse | None:
        self.asked.append((session, shopper, card))
        self.called.set()
        self.release.wait(5)
        return self.answers.pop(0)


def _link(url: str, expires: float) -> HandoffResponse:
    return HandoffResponse(request_id=uuid.uuid4(), url=url, expires_at=datetime.fromtimestamp(expires, UTC))


def test_the_kiosk_asks_once_per_visit_and_shows_the_link_once_hq_answers() -> None:
    hq, visit, now = _Hq(), Visit(), [NOW]
    arrived: list[str] = []
    dispatched = threading.Event()

    def dispatch(work: Callable[[], None]) -> None:
        work()
        dispatched.set()

    links = HandoffLinks(hq.request, lambda: visit, dispatch, clock=lambda: now[0])
    hq.answers.append(_link("https://hq/h/one", NOW + 600))
    assert links.link(arrived.append) is None  # the product's address meanwhile
    assert hq.called.wait(5)
    assert links.link(arrived.append) is None and len(hq.asked) == 1  # asking already
    hq.release.set()
    assert dispatched.wait(5)
    assert arrived == ["https://hq/h/one"]
    assert links.link(arrived.append) == "https://hq/h/one"  # held: at once, no new request
    assert hq.asked == [(visit.id, None, None)]
    now[0] = NOW + 600 - RENEW_BEFORE_S  # in its last minute: asked for anew
    dispatched.clear()
    hq.answers.append(None)  # HQ out of reach this time
    assert links.link(arrived.append) is None
    assert dispatched.wait(5) and len(hq.asked) == 2 and arrived == ["https://hq/h/one"]


def test_a_consenting_shopper_s_visit_gets_its_own_link_and_a_late_answer_is_dropped() -> None:
    hq = _Hq()
    hq.release.set()
    visits = [Visit()]
    arrived: list[str] = []
    done = threading.Event()

    def dispatch(work: Callable[[], None]) -> None:
        if visits[0].shopper is None:  # a card tap and a yes while HQ was answering
            visits[0] = Visit(shopper="shopper-0042", card_token="card", consented=True)
        work()
        done.set()

    links = HandoffLinks(hq.request, lambda: visits[0], dispatch, clock=lambda: NOW)
    hq.answers.append(_link("https://hq/h/anonymous", NOW + 600))
    links.link(arrived.append)
    assert done.wait(5) and arrived == []  # that visit is over: its link is not shown
    done.clear()
    hq.answers.append(_link("https://hq/h/signed-in", NOW + 600))
    links.link(arrived.append)
    assert done.wait(5) and arrived == ["https://hq/h/signed-in"]
    assert hq.asked[1] == (visits[0].id, "shopper-0042", "card")


def test_a_visit_hq_refused_is_not_asked_for_again_at_once() -> None:
    hq, visit = _Hq(), Visit()
    hq.release.set()
    done = threading.Event()

    def dispatch(work: Callable[[], None]) -> None:
        work()
        done.set()

    links = HandoffLinks(hq.request, lambda: visit, dispatch, clock=lambda: NOW)
    hq.answers.append(HandoffResponse(request_id=uuid.uuid4(), error="card refused"))
    links.link(lambda url: None)
    assert done.wait(5)
    assert links.link(lambda url: None) is None and len(hq.asked) == 1


def test_the_acl_lets_a_kiosk_ask_for_and_hear_only_its_own_links() -> None:
    acl = render_acl(["hq-profiles"], [("madrid-centro", "kiosk-01")]).splitlines()
    kiosk = acl[acl.index("user madrid-centro.kiosk-01"):]
    assert [line for line in kiosk if "handoff" in line] == [
        "topic write kiosk/madrid-centro/kiosk-01/handoff/request",
        "topic read kiosk/madrid-centro/kiosk-01/handoff/response"]
    assert "topic readwrite kiosk/#" in acl[acl.index("user hq-profiles"):acl.index("user madrid-centro.kiosk-01")]
