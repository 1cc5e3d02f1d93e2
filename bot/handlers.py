"""Telegram update handlers. Every message from a user gets exactly one answer path, and always an answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.exc import SQLAlchemyError
from telegram import CallbackQuery, Chat, InlineKeyboardMarkup, Message, Update
from telegram.constants import ChatAction, ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, CallbackContext, ExtBot

from analytics.counting import UsageCounter
from bot.delivery import as_plain, deliver
from bot.engine_client import EngineClient, EngineUnavailable
from bot.handoff_desk import HandoffDesk
from bot.normalise import normalise
from bot.preferences import LanguagePreferences
from bot.recent import RecentLines
from bot.rendering import HUMAN_PAYLOAD, Button, Outgoing, language_menu, plain, render, say
from bot.status_notifier import StatusNotifier
from cases.subscriptions import Subscriptions
from core import protocol
from core.bootstrap import Database
from core.coordination import Coordination, store_errors
from core.i18n import normalize_language
from core.metrics import ENGINE_ERRORS, FALLBACKS, FLOOD_LIMITED, MESSAGES, REPLY_SECONDS
from core.settings import LANGUAGES, Settings
from knowledge.ratings import Ratings

log = logging.getLogger(__name__)
TOAST_CHARS = 200  # what Telegram shows of a button press's answer
TYPING_AFTER_S, TYPING_MAX_IN_FLIGHT = 0.8, 10


@dataclass
class Services:
    settings: Settings
    database: Database
    engine: EngineClient
    languages: LanguagePreferences
    ratings: Ratings
    subscriptions: Subscriptions
    desk: HandoffDesk
    recent: RecentLines
    coordination: Coordination
    usage: UsageCounter
    in_flight: int = 0  # messages waiting for the engine right now


@dataclass
class GatewayData:
    """What the handlers reach through `context.bot_data` (PTB's ContextTypes): the settings and the
    coordination store from the start, the services once the gateway has started (bot/app.py)."""

    settings: Settings | None = None
    coordination: Coordination | None = None
    services: Services | None = None
    notifier: StatusNotifier | None = None


Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], GatewayData]


def services(context: Context) -> Services:
    shared = context.bot_data.services
    if shared is None:
        raise RuntimeError("an update arrived before the gateway started")
    return shared


# Every handler here is registered (bot/app.py) for updates with a chat and a message, or a callback query.
def _chat_id(update: Update) -> int:
    if update.effective_chat is None:
        raise ValueError(f"update {update.update_id} has no chat")
    return update.effective_chat.id


def _message(update: Update) -> Message:
    if update.effective_message is None:
        raise ValueError(f"update {update.update_id} has no message")
    return update.effective_message


async def send(context: Context, chat_id: int, outgoing: Outgoing) -> Message | None:
    return await deliver(context.bot, chat_id, outgoing)


def _count(update: Update, context: Context, language: str, outcome: str, entry: str | None = None) -> None:
    """Adds a message and what became of it to the Overview's counts: in memory, no wait, and never a failed
    reply (a count is worth less than the answer)."""
    channel = "button" if update.callback_query is not None else "text"
    try:
        services(context).usage.count(_chat_id(update), language, outcome, channel, entry)
    except Exception:
        log.exception("a message was not counted")


async def _language(update: Update, context: Context, text: str | None) -> str:
    """The chat's language; `text` (what the user wrote, if anything) is read as the engine will read it."""
    user = update.effective_user
    hint = normalise(text) if text else None
    return await services(context).languages.resolve(_chat_id(update), hint, user.language_code if user else None)


async def _converse(update: Update, context: Context, text: str, language: str) -> None:
    """Sends one user text to the engine and delivers its replies."""
    shared = services(context)
    chat_id = _chat_id(update)
    # "typing…" only when the answer is slow to come, and not when many are waiting: every Bot API call
    # counts against Telegram's 30 per second, which the answers themselves need then.
    typing = asyncio.get_running_loop().create_task(
        _typing_after(context, chat_id, TYPING_AFTER_S) if shared.in_flight < TYPING_MAX_IN_FLIGHT else asyncio.sleep(0)
    )
    shared.in_flight += 1
    started = time.monotonic()
    try:
        replies = await shared.engine.send(str(chat_id), text, {"language": language})
    except EngineUnavailable as error:
        log.error("engine unavailable for a message: %s", error)
        ENGINE_ERRORS.labels(type(error.__cause__ or error).__name__).inc()
        if text == HUMAN_PAYLOAD:  # people can be reached even when the engine is down
            _count(update, context, language, "handed_over")
            for outgoing in await shared.desk.open(chat_id, language, "asked"):
                await send(context, chat_id, outgoing)
            return
        _count(update, context, language, "engine_down")
        buttons = [[Button(plain(language, "talk_to_person"), HUMAN_PAYLOAD)]] if shared.desk.available else []
        await send(context, chat_id, Outgoing(say(language, "engine_down"), buttons))
        return
    finally:
        typing.cancel()
        shared.in_flight -= 1
    rendered = render(language, replies)
    if rendered.new_language:
        await shared.languages.set(chat_id, rendered.new_language, explicit=True)
        language = rendered.new_language
    if not rendered.messages and not rendered.handoff and await shared.engine.actions_down():
        log.error("the engine answered nothing and its action server is down")
        ENGINE_ERRORS.labels("actions_down").inc()
        _count(update, context, language, "engine_down")
        await send(context, chat_id, Outgoing(say(language, "engine_down")))
        return
    _count(update, context, language, rendered.outcome, rendered.entry)
    messages = rendered.messages or ([] if rendered.handoff else [Outgoing(say(language, "not_understood"))])
    if rendered.not_understood:
        FALLBACKS.labels(language).inc()
    if not text.startswith("/"):
        await shared.recent.add(chat_id, "user", text)
    for outgoing in messages:
        await shared.recent.add(chat_id, "bot", as_plain(outgoing.html))
        sent = await send(context, chat_id, outgoing)
        if sent is not None and outgoing.rated is not None:
            await _remember_rated(shared.ratings, chat_id, sent.message_id, outgoing.rated)
    if rendered.handoff:
        for outgoing in await shared.desk.open(chat_id, language, rendered.handoff):
            await send(context, chat_id, outgoing)
    REPLY_SECONDS.observe(time.monotonic() - started)


async def _remember_rated(ratings: Ratings, chat_id: int, message_id: int, entry: str) -> None:
    """Records which entry an answer's rating buttons are for; without it they only answer "no longer
    active", which is better than an apology after an answer the user already has."""
    try:
        await ratings.sent(chat_id, message_id, entry)
    except (SQLAlchemyError, OSError) as error:
        log.warning("could not record a sent answer (%s): its rating buttons will not count", type(error).__name__)


async def _typing_after(context: Context, chat_id: int, delay_s: float) -> None:
    await asyncio.sleep(delay_s)
    with contextlib.suppress(TelegramError):
        await context.bot.send_chat_action(chat_id, ChatAction.TYPING)


async def flood_guard(update: Update, context: Context) -> None:
    """Runs after the relay to people, before the handlers that answer: a chat sending more than
    `flood_messages` within `flood_window_s` is told once to slow down, and the rest of the burst is not
    answered, so one user cannot take the others' share of the engine or of Telegram's 30 messages a
    second. Fails open: trouble with the store never silences anyone. Also counts, by kind, every message
    the assistant itself handles (metrics)."""
    message = _message(update)
    MESSAGES.labels("command" if (message.text or "").startswith("/") else "text" if message.text else "other").inc()
    count = await _flood_hits(context, _chat_id(update))
    if count <= services(context).settings.flood_messages:
        return
    FLOOD_LIMITED.inc()
    if count == services(context).settings.flood_messages + 1:
        language = await _language(update, context, message.text)
        await send(context, _chat_id(update), Outgoing(say(language, "flood")))
    raise ApplicationHandlerStop


async def press_flood_guard(update: Update, context: Context) -> None:
    """The same flood control for button presses in private chats, on the same budget as the chat's
    messages: a press (a forged `/faq{…}` payload, a rating) costs an engine call or database work too. A
    held press is still answered, with the slow-down text as a toast, so that no button keeps spinning."""
    query, chat = update.callback_query, update.effective_chat
    if query is None or chat is None or chat.type != ChatType.PRIVATE:
        return
    if await _flood_hits(context, chat.id) <= services(context).settings.flood_messages:
        return
    FLOOD_LIMITED.inc()
    language = await _language(update, context, None)
    with contextlib.suppress(TelegramError):
        await query.answer(plain(language, "flood")[:TOAST_CHARS])
    raise ApplicationHandlerStop


async def _flood_hits(context: Context, chat_id: int) -> int:
    """How often the chat was heard from within the flood window, this time included; 0 when the store
    cannot say (fails open: trouble with the store never silences anyone)."""
    shared = services(context)
    try:
        return await shared.coordination.hits(f"flood:{chat_id}", shared.settings.flood_window_s)
    except store_errors() as error:
        log.warning("flood control unavailable (%s): update let through", type(error).__name__)
        return 0


async def relay_to_people(update: Update, context: Context) -> None:
    """Runs before every other handler of a private message: while people handle the chat, everything the
    user sends (commands included) goes to them, and no other handler runs, so the bot stays silent."""
    message = _message(update)
    # The language hint the handlers below use: a command's text says nothing about the language.
    hint = None if message.text and message.text.startswith("/") else (message.text or message.caption)

    resolved: list[str] = []

    async def language() -> str:
        if not resolved:
            resolved.append(await _language(update, context, hint))
        return resolved[0]

    if await services(context).desk.relay_from_user(message, language):
        counted_as = resolved[0] if resolved else services(context).settings.default_language  # the relay's
        _count(update, context, counted_as, "with_people")
        raise ApplicationHandlerStop


async def on_text(update: Update, context: Context) -> None:
    # Understood as typed, without the invisible characters that would hide words from the engine (and
    # the same for the status form's application numbers and dates, which are texts too).
    text = normalise(_message(update).text or "")
    language = await _language(update, context, text)
    limit = services(context).settings.max_message_chars
    chat_id = _chat_id(update)
    if not text:
        _count(update, context, language, "other")
        await send(context, chat_id, Outgoing(say(language, "empty")))
    elif len(text) > limit:
        _count(update, context, language, "other")
        await send(context, chat_id, Outgoing(say(language, "too_long", length=len(text), limit=limit)))
    else:
        await _converse(update, context, text, language)


async def on_start(update: Update, context: Context) -> None:
    language = await _language(update, context, None)
    _count(update, context, language, "other")
    greeting = Outgoing(say(language, "greet"), language_menu(language).buttons)
    await send(context, _chat_id(update), greeting)


async def on_help(update: Update, context: Context) -> None:
    language = await _language(update, context, None)
    _count(update, context, language, "other")
    await send(context, _chat_id(update), Outgoing(say(language, "help")))


async def on_language(update: Update, context: Context) -> None:
    language = await _language(update, context, None)
    _count(update, context, language, "other")
    await send(context, _chat_id(update), language_menu(language))


async def on_person(update: Update, context: Context) -> None:
    """/person: straight to people (through the engine, so an open form is closed first)."""
    language = await _language(update, context, None)
    await _converse(update, context, HUMAN_PAYLOAD, language)


async def on_unknown_command(update: Update, context: Context) -> None:
    language = await _language(update, context, None)
    _count(update, context, language, "other")
    await send(context, _chat_id(update), Outgoing(say(language, "unknown_command")))


async def on_non_text(update: Update, context: Context) -> None:
    caption = _message(update).caption
    language = await _language(update, context, caption)
    _count(update, context, language, "other")
    await send(context, _chat_id(update), Outgoing(say(language, "non_text")))


async def _pressed(update: Update) -> tuple[CallbackQuery, Chat] | None:
    """The press and its chat; a press without a chat (an inline message's button) is only acknowledged."""
    query = update.callback_query
    if query is None:
        raise ValueError(f"update {update.update_id} has no callback query")
    if update.effective_chat is None:
        with contextlib.suppress(TelegramError):
            await query.answer()
        return None
    return query, update.effective_chat


async def on_ticket_button(update: Update, context: Context) -> None:
    """Take, escalate or resolve on a ticket's header, in a staff topic."""
    if await _pressed(update) is not None:
        await services(context).desk.on_button(update, _parsed(update, protocol.TicketAction))


async def on_handoff_rating(update: Update, context: Context) -> None:
    if (pressed := await _pressed(update)) is None:
        return
    query, chat = pressed
    language = await _language(update, context, None)
    rated = await services(context).desk.rate(chat.id, _parsed(update, protocol.RateHandoff))
    await _acknowledge(query, language, rated, "rate_thanks")


async def on_choose_language(update: Update, context: Context) -> None:
    if (pressed := await _pressed(update)) is None:
        return
    query, chat = pressed
    new_language = _parsed(update, protocol.ChooseLanguage).language
    if new_language not in LANGUAGES:
        await on_unknown_button(update, context)
        return
    await services(context).languages.set(chat.id, new_language, explicit=True)
    _count(update, context, new_language, "other")
    with contextlib.suppress(TelegramError):
        await query.answer()
    await send(context, chat.id, Outgoing(say(new_language, "language_set")))


async def on_rate_answer(update: Update, context: Context) -> None:
    if (pressed := await _pressed(update)) is None:
        return
    query, chat = pressed
    language = await _language(update, context, None)
    press = _parsed(update, protocol.RateAnswer)
    # Counted only for an answer sent to this very user (a private chat's id is its user's) with this entry's
    # buttons: the data and the message id can both be forged.
    recorded = (
        query.message is not None
        and query.from_user.id == chat.id
        and await services(context).ratings.record(
            press.entry, language, 1 if press.up else -1, chat.id, query.message.message_id
        )
    )
    if not recorded:
        log.warning("rating press for no answer sent with those buttons: not counted")
    await _acknowledge(query, language, recorded, "rate_thanks")


async def on_subscribe(update: Update, context: Context) -> None:
    if (pressed := await _pressed(update)) is None:
        return
    query, chat = pressed
    language = await _language(update, context, None)
    subscribed = await services(context).subscriptions.activate(
        _parsed(update, protocol.Subscribe).lookup, chat.id, language
    )
    await _acknowledge(query, language, subscribed, "status_subscribed")
    if subscribed:
        await send(context, chat.id, Outgoing(say(language, "status_subscribed")))


async def on_engine_button(update: Update, context: Context) -> None:
    """A button whose payload the user "says" to the engine (`/faq{…}`), handled like a message."""
    if (pressed := await _pressed(update)) is None:
        return
    query, chat = pressed
    language = await _language(update, context, None)
    if await services(context).desk.has_open_ticket(chat.id):
        with contextlib.suppress(TelegramError):  # people have the chat: old bot buttons do nothing
            await query.answer(plain(language, "handoff_busy_button"))
        return
    with contextlib.suppress(TelegramError):
        await query.answer()
    await _converse(update, context, normalise(_parsed(update, protocol.SayToEngine).payload), language)


async def on_unknown_button(update: Update, context: Context) -> None:
    if (pressed := await _pressed(update)) is None:
        return
    log.warning("unknown or forged callback data (%d bytes)", len((pressed[0].data or "").encode("utf-8")))
    language = await _language(update, context, None)
    with contextlib.suppress(TelegramError):
        await pressed[0].answer(plain(language, "button_expired"))


P = TypeVar("P", bound=protocol.ButtonData)


def _parsed(update: Update, kind: type[P]) -> P:
    """The press's data as the kind of button its handler was routed by (bot/app.py): it parses."""
    press = kind.parse(update.callback_query.data if update.callback_query else None)
    if press is None:
        raise ValueError(f"update {update.update_id} is not a {kind.__name__} press")
    return press


# Presses routed by their data's kind, in this order; anything else is no button of ours.
Handler = Callable[[Update, Context], Coroutine[Any, Any, None]]
BUTTONS: tuple[tuple[type[protocol.ButtonData], Handler], ...] = (
    (protocol.TicketAction, on_ticket_button),
    (protocol.RateHandoff, on_handoff_rating),
    (protocol.ChooseLanguage, on_choose_language),
    (protocol.RateAnswer, on_rate_answer),
    (protocol.Subscribe, on_subscribe),
    (protocol.SayToEngine, on_engine_button),
)


async def _acknowledge(query, language: str, done: bool, thanks_key: str) -> None:
    """Answers a one-time button (rating, subscription): thanks and the buttons go, or "no longer active"."""
    with contextlib.suppress(TelegramError):
        await query.answer(plain(language, thanks_key if done else "button_expired"))
    if done:
        # Only the one-time row goes: an answer's related questions stay under it.
        keyboard = query.message.reply_markup.inline_keyboard if query.message and query.message.reply_markup else ()
        rows = [row for row in keyboard if not any(_one_time(b.callback_data) for b in row)]
        with contextlib.suppress(TelegramError):
            await query.edit_message_reply_markup(reply_markup=InlineKeyboardMarkup(rows) if rows else None)


def _one_time(data: object) -> bool:
    return any(kind.parse(str(data or "")) is not None for kind in protocol.ONE_TIME)


async def on_staff_message(update: Update, context: Context) -> None:
    await services(context).desk.from_staff(_message(update))


async def on_error(update: object, context: Context) -> None:
    """The apology when a handler failed. It must not depend on what may have failed (the database holds
    the language preference): then the language comes from Telegram's hint or the default.

    It ends the update's handling: otherwise PTB goes on to the next handler group, and a failure in an early
    group (the relay to people, with the database down) gave an apology and then an answer, or two apologies."""
    log.error("error while handling an update", exc_info=context.error)
    if not isinstance(update, Update) or update.effective_chat is None:
        raise ApplicationHandlerStop
    try:
        language = await _language(update, context, None)
    except Exception:  # noqa: BLE001 - the apology must not depend on what failed: any trouble means Telegram's hint
        user = update.effective_user
        language = normalize_language(user.language_code if user else None, services(context).settings.default_language)
    with contextlib.suppress(Exception):
        await send(context, update.effective_chat.id, Outgoing(say(language, "error")))
    raise ApplicationHandlerStop
