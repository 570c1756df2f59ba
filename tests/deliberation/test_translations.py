"""The translation catalogues in locale/: complete, compiled, and up to date with the sources.

Each locale's django.po is read here with a small parser (no gettext needed): every message is
translated and none is fuzzy, the translation keeps the message's placeholders, and the
committed django.mo (what Django reads; a clone needs no gettext) says the same as the .po. Then
the marked strings are collected afresh from the sources with `makemessages` (GNU gettext's
xgettext, as `make messages` runs it) and must be the messages the catalogue has.
"""

import gettext
import os
import re
import shutil

import pytest
from django.conf import settings
from django.core.management import call_command

from tests.po import ROOT, catalogue, read_po

LOCALES = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
# Where the marked strings are: the participant templates, views, forms, services, selectors.
SOURCES = ("config", "deliberation", "templates")
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def test_every_language_but_english_has_a_catalogue():
    assert LOCALES == ["de"]
    for locale in LOCALES:
        assert len(read_po(catalogue(locale))) > 150


@pytest.mark.parametrize("locale", LOCALES)
def test_every_message_is_translated_and_none_is_fuzzy(locale):
    messages = read_po(catalogue(locale))
    untranslated = [m.msgid for m in messages if not all(m.translations)]
    fuzzy = [m.msgid for m in messages if m.fuzzy]
    assert not untranslated, f"untranslated in {locale}: {untranslated}"
    assert not fuzzy, f"fuzzy in {locale}: {fuzzy}"


@pytest.mark.parametrize("locale", LOCALES)
def test_translations_keep_the_placeholders(locale):
    broken = [
        (m.msgid, text)
        for m in read_po(catalogue(locale))
        for text in m.translations
        if sorted(PLACEHOLDER.findall(text)) != sorted(PLACEHOLDER.findall(m.plural or m.msgid))
    ]
    assert not broken


@pytest.mark.parametrize("locale", LOCALES)
def test_the_committed_mo_is_compiled_from_the_po(locale):
    """Django reads the .mo; a .po changed without `make messages` would not show."""
    with catalogue(locale).with_suffix(".mo").open("rb") as compiled:
        mo = gettext.GNUTranslations(compiled)
    stale = []
    for message in read_po(catalogue(locale)):
        if message.plural:
            shown = [mo.ngettext(message.msgid, message.plural, n) for n in (1, 2)]
        else:
            shown = [mo.gettext(message.msgid)]
        if shown != message.translations:
            stale.append(message.msgid)
    assert not stale, f"{locale}: django.mo differs from django.po; run `make messages`"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_catalogue_has_exactly_the_strings_marked_in_the_sources(
    locale, tmp_path, monkeypatch, settings
):
    """`makemessages` run on the sources (linked into an empty folder, so that it writes its
    .po there) finds the messages the committed catalogue has: none missing, none left over.
    Needs GNU gettext; skipped without it, except in CI."""
    if not shutil.which("xgettext"):
        message = "GNU gettext (xgettext) is not installed: apt-get install gettext"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    for name in SOURCES:
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    call_command("makemessages", locale=[locale], symlinks=True, verbosity=0)
    fresh = {(m.msgid, m.plural) for m in read_po(tmp_path / catalogue(locale).relative_to(ROOT))}
    committed = {(m.msgid, m.plural) for m in read_po(catalogue(locale))}
    assert not fresh - committed, "marked but not in the catalogue; run `make messages`"
    assert not committed - fresh, "in the catalogue but marked nowhere; run `make messages`"
