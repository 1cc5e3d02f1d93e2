"""Text is normalised in the gateway before the engine and the language detection read it."""

from __future__ import annotations

import unicodedata

import pytest

from bot.normalise import normalise
from telegram_emulator.driver import text_of
from tests.support.gateway import fake_engine, gateway  # noqa: F401 - fixtures

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("How do I ex\u200btend my resi\u200ddence per\ufeffmit?", "How do I extend my residence permit?"),
        ("\u202eevil\u202c \u200fمرحبا\u200e", "evil مرحبا"),  # bidi controls go, the words stay
        ("\x00\x01\x07\x1b[31mhello\x7f\x9b", "[31mhello"),
        ("tab\there\r\ncarriage\x0bvertical\x0cform\u2028line", "tab here\ncarriage vertical form\nline"),
        ("  spaced \u00a0 out\u3000 ", "spaced out"),
        ("ＴＲＰ－２０２６－０００１０２", "TRP-2026-000102"),  # fullwidth: the application number
        ("TRP\u200b-2026-\u2060000102", "TRP-2026-000102"),
        ("１２．０３．１９９０", "12.03.1990"),
        ("ﬁle ①", "file 1"),
        ("заявление №5", "заявление №5"),  # NFKC would spell it "No5"
        ("e\u200b\u0301", "é"),  # the accent a zero-width space kept apart is composed
    ],
)
def test_invisible_and_compatibility_characters(typed, read):
    assert normalise(typed) == read


@pytest.mark.parametrize(
    "text",
    [
        "Yaşayış icazəsini necə uzada bilərəm? İş icazəsi, ğ ş ç ö ü ı İ Ə Ğ Ş Ç Ö Ü",
        "Как продлить вид на жительство? Ёлка, йод, Й, ё, щ, ъ, ы",
        "Qeydiyyat üçün hansı sənədlər lazımdır?",
        "Я из Узбекистана 🇺🇿, 👨‍👩‍👧 нужен ВНЖ",
    ],
)
def test_azerbaijani_cyrillic_and_emoji_stay_as_typed(text):
    expected = text.replace("\u200d", "")  # only the joiners inside the family emoji go
    assert normalise(text) == expected


def test_decomposed_letters_are_composed_and_turkish_i_is_not_touched():
    assert normalise(unicodedata.normalize("NFD", "şəhər İstanbul й ё")) == "şəhər İstanbul й ё"
    assert normalise("ı I i İ") == "ı I i İ"  # no case folding: dotted and dotless i stay apart


@pytest.mark.parametrize("text", ["", " ", "\u200b", ZERO_WIDTH * 50, "\x00\x01\x02", "\t\n\r\x0b", "\u202e\u202c"])
def test_invisible_only_is_empty(text):
    assert normalise(text) == ""


def test_normalising_twice_changes_nothing():
    for text in ["a\u200bb  c\n\n d", "ＡＢＣ №1 ﬁ", "x\x00y\u2028z"]:
        assert normalise(normalise(text)) == normalise(text)


async def test_a_question_with_zero_width_characters_reaches_the_engine_clean(gateway):  # noqa: F811
    engine, driver = gateway
    (reply,) = await driver.ask(70, "How do I ex\u200btend my resi\u200bdence permit?", language_code="en")
    assert text_of(reply) == "echo: How do I extend my residence permit?"
    assert engine.received[-1]["message"] == "How do I extend my residence permit?"


async def test_the_status_forms_answers_reach_the_engine_clean(gateway):  # noqa: F811
    engine, driver = gateway
    await driver.ask(71, "ＴＲＰ－２０２６－０００１０２\u200b", language_code="en")
    await driver.ask(71, "\u200e02.11.1985\u200f", language_code="en")
    assert [m["message"] for m in engine.received if m["sender"] == "71"] == ["TRP-2026-000102", "02.11.1985"]


@pytest.mark.parametrize("typed", ["\x00\x01\x07\x1b", "\u200b\u200c\u200d\ufeff", "\u202e\u202c\x7f"])
async def test_a_message_of_invisible_characters_is_asked_for_words_and_not_sent_on(gateway, typed):  # noqa: F811
    engine, driver = gateway
    (reply,) = await driver.ask(72, typed, language_code="en")
    assert "Please type your question" in text_of(reply)
    assert not [m for m in engine.received if m["sender"] == "72"], "nothing reached the engine"


async def test_the_language_is_detected_from_the_normalised_text(gateway):  # noqa: F811
    engine, driver = gateway
    await driver.ask(73, "Как\u200b продлить\u200b вид\u200b на\u200b жительство\u200b?")
    assert engine.received[-1]["metadata"] == {"language": "ru"}
