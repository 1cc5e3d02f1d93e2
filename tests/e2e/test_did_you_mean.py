"""When the classifier is unsure: "did you mean" buttons from the knowledge base, a way to a person, and
ratings on answers that staff see."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from core.bootstrap import open_database
from knowledge.curation import Curation
from telegram_emulator.driver import buttons_of, text_of

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(900_001)


async def test_unsure_question_offers_entries_and_a_person(running):
    user, driver = next(_users), running.driver
    # Six entries are about visas, so a bare "visa" stays unsure ("documents" did until training data taught
    # that most questions with that word are about a residence permit's documents).
    (menu,) = await driver.ask(user, "visa", language_code="en")
    assert "Did you mean" in text_of(menu)
    options = buttons_of(menu)
    entry_buttons = [b for b in options if b["callback_data"].startswith("/faq{")]
    assert 1 <= len(entry_buttons) <= 3
    assert options[-1]["callback_data"] == "/human_handoff" and "person" in options[-1]["text"]

    # Choosing an entry answers it, with its source and rating buttons.
    await driver.press(user, user, menu["message_id"], data=entry_buttons[0]["callback_data"])
    (answer,) = await driver.wait_messages(user, 1, after_id=menu["message_id"])
    assert "Source:" in text_of(answer)
    assert entry_buttons[0]["text"].rstrip("…") in text_of(answer)
    assert [b["text"] for b in buttons_of(answer)][:2] == ["👍", "👎"]

    # "None of these" hands the chat to a person (tests/e2e/test_handoff.py follows that path further).
    await driver.press(user, user, menu["message_id"], data="/human_handoff")
    (people,) = await driver.wait_messages(user, 1, after_id=answer["message_id"])
    assert "passing our conversation to a person" in text_of(people)


async def test_rating_is_thanked_recorded_and_shown_to_staff(running):
    user, driver = next(_users), running.driver
    (answer,) = await driver.ask(user, "How do I get an electronic visa (ASAN Visa) to Azerbaijan?")
    thumbs_up = buttons_of(answer)[0]
    pressed = await driver.press(user, user, answer["message_id"], data=thumbs_up["callback_data"])
    assert (await driver.wait_callback_answer(pressed["callback_query_id"]))["answer"][
        "text"
    ] == "Thank you for your feedback!"
    for _ in range(50):  # the rating buttons are removed so the same message is not rated twice
        (current,) = [m for m in await driver.messages(user) if m["message_id"] == answer["message_id"]]
        if not any(b["callback_data"].startswith("rate:") for b in buttons_of(current)):
            break
        await asyncio.sleep(0.1)
    assert not any(b["callback_data"].startswith("rate:") for b in buttons_of(current))
    # The related questions stay.
    assert [b["callback_data"] for b in buttons_of(current)] == [
        b["callback_data"] for b in buttons_of(answer) if not b["callback_data"].startswith("rate:")
    ]
    database = await open_database(running.settings)
    try:
        rows = {row.key: row for row in await Curation(database.sessions).list_entries()}
    finally:
        await database.close()
    assert rows["visa_evisa_asan"].thumbs_up >= 1


async def test_forged_rating_for_an_unknown_entry_is_refused(running):
    user, driver = next(_users), running.driver
    (answer,) = await driver.ask(user, "How do I get an electronic visa (ASAN Visa) to Azerbaijan?")
    pressed = await driver.press(user, user, answer["message_id"], data="rate:+:no_such_entry_anywhere")
    assert (await driver.wait_callback_answer(pressed["callback_query_id"]))["answer"][
        "text"
    ] == "This button is no longer active."


async def test_typed_payloads_are_commands_not_engine_intents(running):
    user, driver = next(_users), running.driver
    (reply,) = await driver.ask(user, '/faq{"entry":"visa_evisa_asan"}', language_code="en")
    assert "do not know this command" in text_of(reply)
