"""The gettext catalogs in assets/locale: every language translates every message the
screens use, with the same template fields, and a broken catalog says what is wrong."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest

from kiosk_app.ui import texts
from kiosk_app.ui.texts import LANGUAGES, TextsError, message_ids, texts_for

ROOT = Path(__file__).parents[2]
# Where screens name a message: app.tx["key"] in kv files, texts["key"] / tx["key"] / "toast_..." in the UI code.
_USES = re.compile(r"""(?:tx|texts)\[\s*["']([a-z0-9_]+)["']|["']((?:toast|staff|pin|reason|welcome)_[a-z0-9_]+)["']""")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_translates_every_message_with_the_same_fields(language: str) -> None:
    spanish, translated = texts_for("es"), texts_for(language)
    assert set(translated) == set(message_ids())
    assert all(text.strip() for text in translated.values())
    assert {key: fields(text) for key, text in translated.items()} == {k: fields(t) for k, t in spanish.items()}


def test_spanish_and_english_really_differ_and_unknown_languages_fall_back_to_spanish() -> None:
    assert texts_for("en")["attract_title"] == "Tap any product on the reader"
    assert texts_for("es")["attract_title"] == "Acerca un producto al lector"
    assert texts_for("fr") == texts_for("es")


def test_every_message_the_code_and_layouts_name_is_in_the_catalog() -> None:
    sources = [*ROOT.joinpath("kiosk_app", "ui").glob("*.py"), *ROOT.joinpath("assets", "kv").glob("*.kv")]
    used = {key for path in sources for match in _USES.finditer(path.read_text()) for key in match.groups() if key}
    # Keys built from parts (reason keys in a table, a11y_on/off, staff_* rows) are among them by name.
    assert used - set(message_ids()) == set()
    assert len(used) > 60


def test_a_broken_or_incomplete_catalog_is_reported_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(texts.locale_dir(), tmp_path / "locale")
    monkeypatch.setattr(texts, "locale_dir", lambda: tmp_path / "locale")
    for cached in (texts.message_ids, texts.translations, texts._texts):
        cached.cache_clear()
    english = tmp_path / "locale" / "en" / "LC_MESSAGES" / "kiosk.po"
    try:
        english.write_text(english.read_text().replace('msgstr "Tap any product on the reader"', 'msgstr ""'))
        with pytest.raises(TextsError, match="does not translate attract_title"):
            texts_for("en")
        english.write_bytes(b'msgid "attract_title"\nmsgstr "Tap"\nmsgid garbage\n')
        texts.translations.cache_clear()
        texts._texts.cache_clear()
        with pytest.raises(TextsError, match=r"en catalog .* cannot be read"):
            texts_for("en")
    finally:
        monkeypatch.undo()
        for cached in (texts.message_ids, texts.translations, texts._texts):
            cached.cache_clear()
