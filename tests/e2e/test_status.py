"""Checking an application's status through the real stack and the case-API sandbox, in three languages."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from aiohttp import ClientSession

from telegram_emulator.driver import buttons_of, text_of
from tests.e2e.conftest import stored_conversation

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]
_users = itertools.count(950_001)

ASK = {
    "az": "müraciətimin statusunu yoxla",
    "ru": "проверить статус моего заявления",
    "en": "check my application status",
}
ASKS_NUMBER = {"az": "TRP-2026-000123", "ru": "TRP-2026-000123", "en": "TRP-2026-000123"}
ASKS_VERIFICATION = {"az": "doğum tarixinizi", "ru": "дату рождения", "en": "date of birth"}
STATUS_WORD = {"az": "Vəziyyət: baxılır", "ru": "Статус: на рассмотрении", "en": "Status: under review"}
NOT_FOUND = {"az": "tapa bilmədim", "ru": "Не найдено", "en": "could not find"}
CANCELLED = {"az": "Ləğv edildi", "ru": "Отменено", "en": "Cancelled"}
CANCEL = {"az": "ləğv et", "ru": "отмена", "en": "cancel"}
APPLICATION_PAUSED = {
    "ru": "проверка этого заявления временно приостановлена",
    "en": "checks of this application are paused",
}
BAKU_TIME = {"ru": "по бакинскому времени", "en": "Baku time"}
UNAVAILABLE = {"az": "cavab vermir", "ru": "не отвечает", "en": "not answering"}


def admin(running) -> dict[str, str]:
    """The sandbox's switches want its admin token, made for the run by the launcher."""
    return {"Authorization": f"Bearer {running.settings.sandbox_admin_token.get_secret_value()}"}


async def sandbox(running, **switches) -> dict:
    """Sets the sandbox's switches; its behaviour and counters as they are then."""
    async with (
        ClientSession(headers=admin(running)) as session,
        session.post(f"{running.settings.case_api_url}/_sandbox/behaviour", json=switches) as response,
    ):
        assert response.status == 200
        return await response.json()


async def start(running, user: int, language: str) -> None:
    (ask_number,) = await running.driver.ask(user, ASK[language], language_code=language)
    assert ASKS_NUMBER[language] in text_of(ask_number)


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_found_with_typed_variants_of_number_and_date(running, language):
    user, driver = next(_users), running.driver
    await start(running, user, language)
    (ask_verification,) = await driver.ask(user, "trp 2026 000102")  # spaces and lower case are fine
    assert ASKS_VERIFICATION[language] in text_of(ask_verification)
    (status,) = await driver.ask(user, "02.11.1985")
    text = text_of(status)
    assert "TRP-2026-000102" in text and STATUS_WORD[language] in text


async def test_fin_works_as_verification_and_missing_documents_are_listed(running):
    user, driver = next(_users), running.driver
    await start(running, user, "en")
    await driver.ask(user, "WRK-2026-000201")
    (status,) = await driver.ask(user, "2hb8n5d")
    text = text_of(status)
    assert "documents requested" in text and "medical certificate" in text and "photos" in text


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_wrong_verification_and_unknown_number_get_the_same_answer(running, language):
    driver = running.driver
    answers = []
    for number, born in (("TRP-2026-000101", "01.01.1970"), ("TRP-2026-999999", "12.03.1990")):
        user = next(_users)
        await start(running, user, language)
        await driver.ask(user, number)
        (reply,) = await driver.ask(user, born)
        answers.append(text_of(reply))
    assert answers[0] == answers[1] and NOT_FOUND[language] in answers[0]


async def lookups(running) -> int:
    """How many lookups the case API sandbox has been asked."""
    return int((await sandbox(running))["by_path"].get("/v1/applications/lookup", 0))


async def test_lockout_after_five_failures(running):
    user, driver = next(_users), running.driver
    for attempt in range(5):  # five applications, one failure each: the user is paused, no application is
        await start(running, user, "en")
        await driver.ask(user, f"TRP-2026-90010{attempt}")
        (reply,) = await driver.ask(user, "01.01.1970")
        assert "could not find" in text_of(reply)
    await start(running, user, "en")
    (locked,) = await driver.ask(user, "TRP-2026-000101")  # refused at once: no date of birth is asked
    assert "paused" in text_of(locked) and "Baku time" in text_of(locked)


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_six_chats_guessing_one_applications_date_of_birth_are_paused_after_five(running, language):
    driver = running.driver
    number = {"ru": "CIT-2026-000401", "en": "STX-2026-000601"}[language]  # used by no other test
    for guess in range(5):
        user = next(_users)
        await start(running, user, language)
        await driver.ask(user, number)
        (reply,) = await driver.ask(user, f"0{guess + 1}.01.1970")
        assert NOT_FOUND[language] in text_of(reply)
    before = await lookups(running)
    owner = next(_users)  # with the right date of birth, from a chat that never failed
    await start(running, owner, language)
    (paused,) = await driver.ask(owner, number)
    assert APPLICATION_PAUSED[language] in text_of(paused) and BAKU_TIME[language] in text_of(paused)
    assert await lookups(running) == before  # the number was not looked up


@pytest.mark.parametrize("language", ["az", "ru", "en"])
async def test_cancel_at_any_point(running, language):
    user, driver = next(_users), running.driver
    await start(running, user, language)
    (reply,) = await driver.ask(user, CANCEL[language])
    assert CANCELLED[language] in text_of(reply)
    (greeting,) = await driver.ask(user, {"az": "salam", "ru": "привет", "en": "hello"}[language])
    # The conversation goes on normally.
    assert text_of(greeting).startswith({"az": "Salam!", "ru": "Здравствуйте!", "en": "Hello!"}[language])


async def test_invalid_inputs_are_explained_and_asked_again(running):
    user, driver = next(_users), running.driver
    await start(running, user, "en")
    replies = await driver.ask(user, "my number is twelve", expect=2)
    assert "does not look like an application number" in text_of(replies[0])
    assert "TRP-2026-000123" in text_of(replies[1])  # asked again
    await driver.ask(user, "TRP-2026-000102")
    replies = await driver.ask(user, "31.02.1985", expect=2)
    assert "could not read that" in text_of(replies[0])


@pytest.mark.parametrize("language", ["ru", "en"])
async def test_case_api_down_gets_a_kind_message_and_a_person(running, language):
    user, driver = next(_users), running.driver
    await sandbox(running, fail_status=503, fail_count=-1)
    try:
        await start(running, user, language)
        await driver.ask(user, "TRP-2026-000102")
        (reply,) = await driver.ask(user, "02.11.1985", timeout=60)
        assert UNAVAILABLE[language] in text_of(reply)
        assert buttons_of(reply)[-1]["callback_data"] == "/human_handoff"
    finally:
        await sandbox(running, fail_status=None, fail_count=0)


async def test_verification_data_never_reach_the_engines_stored_conversation(running):
    user, driver = next(_users), running.driver
    await start(running, user, "en")
    await driver.ask(user, "TRP-2026-000102")
    await driver.ask(user, "7QX4M2C")
    stored = stored_conversation(running, user)
    assert "TRP-2026-000102" not in stored and "7QX4M2C" not in stored
    assert "ref:" in stored  # the slots hold vault references


async def test_subscribe_and_be_notified_once_when_the_status_changes(running):
    user, driver = next(_users), running.driver
    await start(running, user, "ru")
    await driver.ask(user, "REF-2026-000701")
    (status,) = await driver.ask(user, "19.08.1987")
    bell = [b for b in buttons_of(status) if b["callback_data"].startswith("sub:")]
    assert bell and "Сообщить" in bell[0]["text"]
    await driver.press(user, user, status["message_id"], data=bell[0]["callback_data"])
    (confirmation,) = await driver.wait_messages(user, 1, after_id=status["message_id"])
    assert "напишу вам" in text_of(confirmation)

    async with (
        ClientSession(headers=admin(running)) as session,
        session.post(
            f"{running.settings.case_api_url}/_sandbox/applications/REF-2026-000701/status",
            json={"status": "approved", "next_step": "collect_card"},
        ) as response,
    ):
        assert response.status == 200
    (notification,) = await driver.wait_messages(user, 1, after_id=confirmation["message_id"], timeout=30)
    text = text_of(notification)
    assert "Статус вашего заявления изменился" in text and "одобрено" in text
    await asyncio.sleep(3)  # several more polls: no second message for the same change
    assert await driver.messages(user, after_id=notification["message_id"]) == []


async def test_someone_elses_subscription_offer_cannot_be_taken(running):
    user, driver = next(_users), running.driver
    await start(running, user, "en")
    await driver.ask(user, "TRP-2026-000102")
    (status,) = await driver.ask(user, "02.11.1985")
    bell = [b for b in buttons_of(status) if b["callback_data"].startswith("sub:")]
    other = next(_users)
    await driver.ask(other, "hello")
    forged_id = int(bell[0]["callback_data"][4:])
    (menu,) = await driver.ask(other, "/language")
    pressed = await driver.press(other, other, menu["message_id"], data=f"sub:{forged_id}")
    answer = await driver.wait_callback_answer(pressed["callback_query_id"])
    assert answer["answer"]["text"] == "This button is no longer active."


async def test_after_repeated_failures_the_circuit_opens_and_spares_the_case_api(running):
    """Last in this module: the action server's breaker stays open for its cool-down afterwards."""
    driver = running.driver
    await sandbox(running, fail_status=503, fail_count=-1)
    try:
        for _ in range(5):  # each lookup fails after its retries: the breaker counts consecutive failures
            user = next(_users)
            await start(running, user, "en")
            await driver.ask(user, "TRP-2026-000102")
            (reply,) = await driver.ask(user, "02.11.1985", timeout=60)
            assert "not answering" in text_of(reply)
    finally:
        await sandbox(running, fail_status=None, fail_count=0, reset_counters=True)
    user = next(_users)
    await start(running, user, "en")
    await driver.ask(user, "TRP-2026-000102")
    (reply,) = await driver.ask(user, "02.11.1985")
    assert "not answering" in text_of(reply)  # the circuit is open: answered at once, kindly
    assert await lookups(running) == 0  # no lookup was sent to the case API
