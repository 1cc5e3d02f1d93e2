"""Building and running the python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, TypeVar

from telegram import BotCommand, Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from analytics.counting import UsageCounter
from bot import handlers
from bot.engine_client import EngineClient
from bot.handoff_desk import HandoffDesk
from bot.preferences import LanguagePreferences
from bot.recent import RecentLines
from bot.resilient_bot import ResilientExtBot
from bot.status_notifier import StatusNotifier
from bot.texts import COMMANDS
from bot.webhook import serve
from cases.client import CaseApiClient
from cases.subscriptions import Subscriptions
from core.coordination import coordination_from
from core.data_key import sealer
from core.i18n import gettext
from core.settings import LANGUAGES, Settings
from handoff.service import Handoff
from knowledge.ratings import Ratings
from knowledge.seeding import open_seeded

log = logging.getLogger(__name__)
T = TypeVar("T")


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """Concurrent across chats, strictly in order within one chat: a user's second message is handled only
    after the first one was answered, so replies never overtake each other."""

    def __init__(self, max_concurrent_updates: int = 512) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._users: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Any) -> None:
        chat = update.effective_chat if isinstance(update, Update) else None
        if chat is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat.id, asyncio.Lock())
        self._users[chat.id] = self._users.get(chat.id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._users[chat.id] -= 1
            if self._users[chat.id] == 0:
                del self._users[chat.id]
                del self._locks[chat.id]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


Gateway = Application[Any, handlers.Context, dict[Any, Any], dict[Any, Any], handlers.GatewayData, Any]


def _started(value: T | None, what: str) -> T:
    if value is None:
        raise RuntimeError(f"the gateway's {what} is missing: build it with build_application()")
    return value


async def _post_init(application: Gateway) -> None:
    data = application.bot_data
    settings = _started(data.settings, "settings")
    database = await open_seeded(settings)
    engine = EngineClient(
        settings.engine_url,
        timeout_s=settings.engine_timeout_s,
        retries=settings.engine_retries,
        actions_health_url=settings.action_server_health_url,
        hop_secret=settings.engine_hop_secret.get_secret_value() if settings.engine_hop_secret else None,
    )
    if settings.engine_hop_secret is None:
        log.warning("ASSISTANT_ENGINE_HOP_SECRET is not set: messages to the engine go unsigned and it refuses them")
    coordination = _started(data.coordination, "coordination store")
    recent = RecentLines(coordination)
    sealed = sealer(settings)
    await engine.start()
    shared = data.services = handlers.Services(
        settings=settings,
        database=database,
        engine=engine,
        languages=LanguagePreferences(database.sessions, settings.default_language, sealed),
        ratings=Ratings(database.sessions, sealed.chat_hash),
        subscriptions=Subscriptions(database.sessions, sealed),
        desk=HandoffDesk(application.bot, Handoff(database.sessions, sealed), settings, recent),
        recent=recent,
        coordination=coordination,
        usage=UsageCounter(database.sessions, coordination, sealed.chat_hash, settings.usage_flush_s),
    )
    shared.desk.start()
    shared.usage.start()
    notifier = StatusNotifier(
        application.bot, shared.subscriptions, CaseApiClient.from_settings(settings), settings.status_poll_interval_s
    )
    notifier.start()
    data.notifier = notifier
    for language in (None, *LANGUAGES):
        commands = [BotCommand(name, gettext(language or "en", text)) for name, text in COMMANDS.items()]
        await application.bot.set_my_commands(commands, language_code=language)
    log.info("gateway ready (api %s, engine %s)", settings.bot_api_url, settings.engine_url)


async def _post_shutdown(application: Gateway) -> None:
    data = application.bot_data
    if data.notifier is not None:
        await data.notifier.stop()
    if (shared := data.services) is not None:
        await shared.desk.stop()
        await shared.usage.stop()
        await shared.engine.close()
        await shared.database.close()
        await shared.coordination.close()


def build_application(settings: Settings) -> Gateway:
    api = settings.bot_api_url
    bot = ResilientExtBot(
        settings.bot_token,
        base_url=f"{api}/bot",
        base_file_url=f"{api}/file/bot",
        request=HTTPXRequest(connection_pool_size=64),
        get_updates_request=HTTPXRequest(read_timeout=40),
        rate_limiter=AIORateLimiter(max_retries=3),
    )
    application = (
        Application.builder()
        .bot(bot)
        .context_types(ContextTypes(bot_data=handlers.GatewayData))
        .concurrent_updates(PerChatUpdateProcessor())
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
        .build()
    )
    application.bot_data.settings = settings
    application.bot_data.coordination = coordination_from(settings)
    private = filters.ChatType.PRIVATE
    # Group -2 runs first: a chat that people are handling goes to them, and no handler below answers. It
    # sees what the handlers below see: new messages, and edited commands (CommandHandler takes those too).
    answered = private & (filters.UpdateType.MESSAGE | (filters.UpdateType.EDITED_MESSAGE & filters.COMMAND))
    application.add_handler(MessageHandler(answered, handlers.relay_to_people), group=-2)
    # Then flood control, for everything that gets an answer (an edited command too): what users send to
    # people is never held back.
    application.add_handler(MessageHandler(answered, handlers.flood_guard), group=-1)
    application.add_handler(CallbackQueryHandler(handlers.press_flood_guard), group=-1)  # button presses too
    application.add_handler(CommandHandler("start", handlers.on_start, filters=private))
    application.add_handler(CommandHandler("help", handlers.on_help, filters=private))
    application.add_handler(CommandHandler("language", handlers.on_language, filters=private))
    application.add_handler(CommandHandler("person", handlers.on_person, filters=private))
    for kind, callback in handlers.BUTTONS:
        application.add_handler(CallbackQueryHandler(callback, pattern=kind.matches))
    application.add_handler(CallbackQueryHandler(handlers.on_unknown_button))
    application.add_handler(
        MessageHandler(private & filters.UpdateType.MESSAGE & filters.COMMAND, handlers.on_unknown_command)
    )
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & filters.TEXT, handlers.on_text))
    application.add_handler(MessageHandler(private & filters.UpdateType.MESSAGE & ~filters.TEXT, handlers.on_non_text))
    # Staff groups: what staff write in a ticket's topic goes to its user (bot/handoff_desk.py).
    application.add_handler(
        MessageHandler(filters.ChatType.SUPERGROUP & filters.UpdateType.MESSAGE, handlers.on_staff_message)
    )
    application.add_error_handler(handlers.on_error)
    return application


def run(settings: Settings) -> None:
    application = build_application(settings)
    if settings.webhook_url:
        # Our own webhook server (bot/webhook.py): replicas share the work through the coordination store.
        coordination = _started(application.bot_data.coordination, "coordination store")
        asyncio.run(serve(application, settings, coordination, _post_init, _post_shutdown))
    else:
        application.run_polling(allowed_updates=Update.ALL_TYPES)
