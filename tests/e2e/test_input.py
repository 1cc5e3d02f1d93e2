"""What users type is normalised in the gateway before the real engine reads it (bot/normalise.py)."""

from __future__ import annotations

import itertools

import pytest

from telegram_emulator.driver import buttons_of, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(560_001)

QUESTIONS = {
    "en": "I just arrived in Baku, within how many days must I register my address?",
    "ru": "Я приехал в Баку, за сколько дней нужно встать на регистрацию?",
    "az": "Bakıya gəldim, neçə gün ərzində qeydiyyatdan keçməliyəm?",
}


def hidden_inside_words(text: str, mark: str) -> str:
    """Every word of four letters or more with an invisible character in its middle."""
    return " ".join(
        word[: len(word) // 2] + mark + word[len(word) // 2 :] if len(word) > 3 else word for word in text.split()
    )


@pytest.mark.parametrize("language", ["en", "ru", "az"])
@pytest.mark.parametrize("mark", ["\u200b", "\u200d\u2060", "\ufeff", "\u00ad", "\u200e"])
async def test_a_question_with_invisible_characters_inside_words_is_answered_like_the_clean_one(
    running, language, mark
):
    driver = running.driver
    (clean,) = await driver.ask(next(_users), QUESTIONS[language])
    (hidden,) = await driver.ask(next(_users), hidden_inside_words(QUESTIONS[language], mark))
    assert text_of(hidden) == text_of(clean)
    assert [b["callback_data"] for b in buttons_of(hidden)] == [b["callback_data"] for b in buttons_of(clean)]


@pytest.mark.parametrize(
    "typed", ["\x00\x01\x02\x03", "\x1b\x1b\x7f\x08\x08", "\u202e\u202c\u200b\x0b\x0c", "\x85\x9b"]
)
async def test_control_characters_do_not_start_the_status_form(running, typed):
    user = next(_users)
    (reply,) = await running.driver.ask(user, typed, language_code="en")
    assert "Please type your question" in text_of(reply)
    (after,) = await running.driver.ask(user, "02.11.1985", language_code="en")  # no form is waiting for it
    assert "Application" not in text_of(after) and "FIN" not in text_of(after)
