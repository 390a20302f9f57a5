"""Every string the kiosk's screens show, from the gettext catalogs in ``assets/locale``.

``kiosk.pot`` lists the message ids (stable keys such as ``attract_title``); each
language's ``kiosk.po`` translates all of them. The catalogs are compiled with Babel
when first used and read through the standard ``gettext`` module. Templates use
``str.format`` fields.
"""

from __future__ import annotations

import functools
import gettext
import io
from importlib.resources import files
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

LANGUAGES: tuple[str, ...] = ("es", "en")
DOMAIN = "kiosk"


class TextsError(RuntimeError):
    """A catalog that leaves a message untranslated or cannot be read."""


def locale_dir() -> Path:
    """The folder holding the catalogs, inside the installed ``assets`` package."""
    return Path(str(files("assets") / "locale"))


@functools.cache
def message_ids() -> tuple[str, ...]:
    """Every message id the screens use, in the template's order."""
    with (locale_dir() / f"{DOMAIN}.pot").open("rb") as template:
        return tuple(str(message.id) for message in read_po(template) if message.id)  # ids here are never plural


@functools.cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalog of ``language``."""
    path = locale_dir() / language / "LC_MESSAGES" / f"{DOMAIN}.po"
    try:
        with path.open("rb") as source:
            catalog = read_po(source, locale=language, abort_invalid=True)
    except (OSError, ValueError, PoFileError) as exc:
        raise TextsError(f"the {language} catalog {path} cannot be read: {exc}") from exc
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@functools.cache
def _texts(language: str) -> dict[str, str]:
    catalog = translations(language)
    texts = {key: catalog.gettext(key) for key in message_ids()}
    missing = [key for key, text in texts.items() if text == key]  # gettext falls back to the id
    if missing:
        more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        raise TextsError(f"the {language} catalog does not translate {', '.join(missing[:5])}{more}")
    return texts


def texts_for(language: str) -> dict[str, str]:
    """The strings for ``language``, falling back to Spanish like the catalog does."""
    return dict(_texts(language if language in LANGUAGES else "es"))


def other_language(language: str) -> str:
    """The language the toggle switches to."""
    return "en" if language == "es" else "es"
