"""Every text a user can see exists, translated, in every language, with the same placeholders."""

import re
import string

import pytest
from babel.messages.pofile import read_po

from bot.texts import COMMANDS, TEXTS
from core.i18n import LOCALES_DIR, gettext
from core.settings import LANGUAGES

ALL = {**TEXTS, **{f"command {k}": v for k, v in COMMANDS.items()}}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_catalog_translates_every_text(language):
    with open(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalog = read_po(po, locale=language)
    for key, msgid in ALL.items():
        message = catalog.get(msgid)
        assert message is not None, f"{language}: {key} missing from the catalog (run make i18n)"
        assert isinstance(message.string, str), f"{language}: {key} has plural forms"
        assert message.string and "fuzzy" not in message.flags, f"{language}: {key} not translated"
        assert placeholders(message.string) == placeholders(msgid), f"{language}: {key} placeholders differ"
        assert gettext(language, msgid) != msgid


def test_catalogs_have_no_stale_entries():
    known = set(ALL.values())
    for language in LANGUAGES:
        with open(LOCALES_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as po:
            catalog = read_po(po, locale=language)
        stale = [m.id for m in catalog if m.id and m.id not in known]
        assert not stale, f"{language}: stale msgids {stale}"


def test_texts_are_html_safe():
    # Texts are escaped at render time, but a raw tag in a msgid would be a mistake.
    for key, msgid in ALL.items():
        assert not re.search(r"<[a-z/]", msgid), key


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_bots_own_texts_use_the_legal_terms_of_the_glossary(language):
    """What the bot says around the answers follows knowledge/glossary.yml too: its greeting once called the
    registration of arrivals "yaşadığı yer üzrə qeydiyyat"."""
    from knowledge.consistency import glossary, sentences

    rules = glossary().get(language, [])
    texts = [gettext(language, msgid) for msgid in ALL.values()]
    found = [
        (said, sentence)
        for text in texts
        for sentence in sentences(text)
        for rule in rules
        if (said := rule.matches(sentence, "registration"))
    ]
    assert found == []
