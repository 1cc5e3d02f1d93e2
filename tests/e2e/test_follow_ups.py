"""Conversations, not single messages, end to end in three languages: a follow-up read in the light of the
answer before it, two questions in one message answered in order, and a clarifying question for a message
that fits several subjects. The phrasings come from the development dialogues (nlu_dev/dialogues_*.yml)."""

from __future__ import annotations

import itertools
import json

import pytest

from telegram_emulator.driver import buttons_of, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(950_001)

# Follow-ups that name no subject: alone they are no answer, after the first answer they are that subject's.
FOLLOW_UPS = {
    "az": (("iş icazəsi necə alınır", "work_permit_how"), ("neçəyədir?", "work_permit_fees_quota")),
    "ru": (
        ("как получить разрешение на работу в азербайджане", "work_permit_how"),
        ("а сколько стоит", "work_permit_fees_quota"),
    ),
    "en": (
        ("what documents does a recognised refugee get?", "refugee_rights_documents"),
        ("does my wife get them too", "refugee_family_members"),
    ),
}
TWO_QUESTIONS = {
    "az": (
        "daimi yaşamaq icazəsini kim ala bilər və neçə illik verilir?",
        ["permanent_residence_eligibility", "permanent_residence_term_extension"],
    ),
    "ru": ("как подать на убежище и можно ли работать пока рассматривают", ["refugee_apply", "asylum_seeker_work"]),
    "en": (
        "can asylum seekers work while waiting, and can their kids go to school?",
        ["asylum_seeker_work", "asylum_seeker_health_school"],
    ),
}
AMBIGUOUS = {
    "az": ("hansı sənədlər lazımdır", "Müvəqqəti yaşamaq üçün icazə"),
    "ru": ("какие документы нужны", "Разрешение на временное проживание"),
    "en": ("how long does it take?", "Work permit"),
}
CLARIFY = {"az": "Hansını nəzərdə tutursunuz?", "ru": "Что именно вы имеете в виду?", "en": "Which one do you mean?"}


def entry_of(message: dict) -> str | None:
    """The entry an answer is about, from its rating button."""
    return next((b["callback_data"][7:] for b in buttons_of(message) if b["callback_data"].startswith("rate:+:")), None)


def related_entries(message: dict) -> list[str]:
    return [
        json.loads(b["callback_data"][4:])["entry"]
        for b in buttons_of(message)
        if b["callback_data"].startswith("/faq")
    ]


async def replies_to(driver, user: int, text: str, language: str, expect: int = 1) -> list[dict]:
    return await driver.ask(user, text, language_code=language, expect=expect, timeout=60)


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_a_follow_up_is_answered_from_the_conversation(running, language):
    (first, first_entry), (follow_up, entry) = FOLLOW_UPS[language]
    user, driver = next(_users), running.driver
    (answer,) = await replies_to(driver, user, first, language)
    assert entry_of(answer) == first_entry
    related = related_entries(answer)
    assert 1 <= len(related) <= 3 and first_entry not in related  # what people need next, as buttons
    (answer,) = await replies_to(driver, user, follow_up, language)
    assert entry_of(answer) == entry
    # The same words with no conversation before them are not that answer.
    alone = await replies_to(driver, next(_users), follow_up, language)
    assert entry not in [entry_of(m) for m in alone]


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_two_questions_in_one_message_get_both_answers_in_order(running, language):
    text, entries = TWO_QUESTIONS[language]
    replies = await replies_to(running.driver, next(_users), text, language, expect=2)
    assert [entry_of(m) for m in replies] == entries


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_a_question_for_several_subjects_gets_a_clarifying_question(running, language):
    text, subject = AMBIGUOUS[language]
    user, driver = next(_users), running.driver
    (asked,) = await replies_to(driver, user, text, language)
    assert text_of(asked) == CLARIFY[language]
    titles = [b["text"] for b in buttons_of(asked)]
    assert subject in titles and len(titles) >= 3 and titles[-1].endswith(("danışmaq", "человеком", "person"))
    button = next(b for b in buttons_of(asked) if b["text"] == subject)
    await driver.press(user, user, asked["message_id"], data=button["callback_data"])
    (answer,) = await driver.wait_messages(user, 1, after_id=asked["message_id"], timeout=60)
    assert entry_of(answer) == json.loads(button["callback_data"][4:])["entry"]
