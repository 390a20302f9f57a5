"""What the welcome says and lists, without a window: the greeting by the shopper's chosen
name (never their id), clipped when long, and what they looked at, newest first."""

from __future__ import annotations

import pytest

from kiosk_app.ui.present import GREETING_NAME_CHARS, greeting, recent_skus
from kiosk_app.ui.texts import texts_for

GREETINGS = [
    # (display name, language, title)
    ("Lucía", "es", "Hola, Lucía"),
    ("Lucía", "en", "Hello, Lucía"),
    ("  Ana   María ", "es", "Hola, Ana María"),  # spaces as typed are tidied
    ("[b]Ana[/b] {shopper}", "es", "Hola, [b]Ana[/b] {shopper}"),  # kept as written: the title reads no markup
    (None, "es", "¡Hola!"),
    (None, "en", "Hello!"),
    ("   ", "es", "¡Hola!"),
]


@pytest.mark.parametrize(("name", "language", "title"), GREETINGS)
def test_the_greeting_uses_the_name_the_shopper_gave_or_none(name: str | None, language: str, title: str) -> None:
    assert greeting(name, language) == title


def test_a_long_name_is_clipped_with_an_ellipsis() -> None:
    name = "Maximiliana Constantinopla de la Santísima Trinidad"
    title = greeting(name, "es")
    clipped = title.removeprefix("Hola, ")
    assert len(clipped) == GREETING_NAME_CHARS and clipped.endswith("…")
    assert name.startswith(clipped.removesuffix("…"))


def test_no_greeting_template_names_the_shopper_s_id() -> None:
    for language in ("es", "en"):
        texts = texts_for(language)
        assert "{shopper}" not in texts["welcome_title"] + texts["welcome_title_unnamed"]


def test_what_they_looked_at_lists_this_visit_first_then_the_profile_each_once() -> None:
    assert recent_skus(("BOOT-1", "BAG-2"), ("BAG-2", "COAT-3")) == ("BOOT-1", "BAG-2", "COAT-3")
    assert recent_skus((), ("BAG-2", "COAT-3")) == ("BAG-2", "COAT-3")
