"""Handing a chat to people, and relaying between the user and the ticket's forum topic in a staff group.

Each ticket gets a topic in the support supergroup (the officers' one once escalated). What the user sends
is copied into the topic, what staff write in the topic is copied to the user; staff commands (`/escalate`,
`/resolve`, `/take`) and notes starting with "!" stay in the topic. Every step is recorded in the ticket
(the database), so a restarted gateway simply goes on relaying; nothing is held in memory but the last
lines of recent chats (see bot/recent.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Bot, Message, Update, User
from telegram.error import BadRequest, Forbidden, TelegramError

from bot.delivery import deliver
from bot.recent import RecentLines
from bot.rendering import Button, Outgoing, escape, say, split_html
from bot.texts import TEXTS
from core import protocol
from core.i18n import LANGUAGE_NAMES, gettext
from core.metrics import HANDOFFS
from core.periodic import Periodic
from core.settings import Settings
from handoff.hours import WorkingHours
from handoff.service import Handoff, HandoffError, TicketView
from handoff.staff import StaffAction, StaffCommand, carry_out, staff_note

log = logging.getLogger(__name__)

STAFF_STATUSES = {"creator", "administrator", "member"}
OPENED_TEXT = {
    "asked": "handoff_opened",
    "not_understood": "handoff_not_understood",
    "sensitive_topic": "handoff_sensitive",
}
AUTHOR_MARK = {"user": "👤", "bot": "🤖", "system": "⚙️"}


def describe(message: Message) -> tuple[str, str]:
    """(kind, words) of a relayed message, for the transcript."""
    if message.text is not None:
        return "text", message.text
    caption = message.caption or ""
    if message.photo:
        return "photo", caption
    if message.document:
        return "document", " ".join(p for p in (message.document.file_name or "", caption) if p)
    for kind in ("voice", "video", "audio", "video_note", "animation", "location", "contact", "poll"):
        if getattr(message, kind, None):
            return kind, caption
    if message.sticker:
        return "sticker", message.sticker.emoji or ""
    return "other", caption


def _topic_gone(error: BadRequest) -> bool:
    text = str(error).lower()
    return "thread not found" in text or "topic_closed" in text or "topic_deleted" in text


def staff_name(user: User | None) -> str:
    if user is None:
        return "staff"
    return (user.username or user.full_name or str(user.id))[:40]


class HandoffDesk:
    def __init__(self, bot: Bot, tickets: Handoff, settings: Settings, recent: RecentLines) -> None:
        self.bot, self.tickets, self.recent = bot, tickets, recent
        self.hours = WorkingHours.parse(settings.support_hours, settings.support_timezone)
        self.support_chat = settings.staff_support_chat_id
        self.officers_chat = settings.staff_officers_chat_id or settings.staff_support_chat_id
        self.staff_language = settings.staff_language
        self._sweeper = Periodic("handoff topic sweep", self.sweep, 30.0)
        self._background: set[asyncio.Task] = set()

    @property
    def available(self) -> bool:
        return self.support_chat is not None

    def is_staff_chat(self, chat_id: int) -> bool:
        return self.available and chat_id in (self.support_chat, self.officers_chat)

    # ------------------------------------------------------------------ the user's side

    async def open(self, chat_id: int, language: str, reason: str, now: dt.datetime | None = None) -> list[Outgoing]:
        """Opens (or finds) the chat's ticket and returns what to tell the user."""
        if not self.available:
            return [Outgoing(say(language, "handoff_unavailable"))]
        ticket, created = await self.tickets.open_ticket(chat_id, language, reason, await self.recent.take(chat_id))
        if not created:
            return [Outgoing(say(language, "handoff_already"))]
        log.info("ticket %s opened (reason %s, language %s)", ticket.id, reason, language)
        HANDOFFS.labels(reason).inc()
        # The topic is made in the background: Telegram allows a group 20 bot messages a minute, so a busy
        # staff group must not hold up the user's reply. If it fails, the sweeper tries again.
        task = asyncio.get_running_loop().create_task(self._topic_for_new_ticket(ticket.id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return [
            Outgoing(say(language, OPENED_TEXT.get(reason, "handoff_opened")) + "\n\n" + self.hours_text(language, now))
        ]

    async def _topic_for_new_ticket(self, ticket_id: int) -> None:
        try:
            await self._ensure_topic(ticket_id)
        except Exception as error:  # noqa: BLE001 - a task nobody awaits: any failure is logged, the sweeper retries
            log.error("could not create the staff topic of ticket %s yet: %s", ticket_id, error)

    def hours_text(self, language: str, now: dt.datetime | None = None) -> str:
        now = now or dt.datetime.now(dt.UTC)
        hours = self.hours.describe(language)
        if self.hours.is_open(now):
            return say(language, "handoff_hours_open", hours=hours)
        when = self.hours.format_moment(self.hours.next_opening(now), language)
        return say(language, "handoff_hours_closed", hours=hours, when=when)

    async def relay_from_user(self, message: Message, language_of: Callable[[], Awaitable[str]]) -> bool:
        """Passes the message to the chat's open ticket; False when the chat has none (the bot answers).

        `language_of` resolves the user's language; it is only asked when there is a ticket, since otherwise
        the handler that answers resolves it anyway."""
        ticket = await self.tickets.open_ticket_for(message.chat_id)
        if ticket is None:
            return False
        language = await language_of()
        kind, words = describe(message)
        try:
            await self._copy_to_topic(ticket.id, message)
        except TelegramError as error:
            log.error("could not relay a message to ticket %s: %s", ticket.id, error)
            await deliver(self.bot, message.chat_id, Outgoing(say(language, "handoff_not_delivered")))
            return True
        await self.tickets.add_message(ticket.id, "user", words, kind)
        return True

    async def has_open_ticket(self, chat_id: int) -> bool:
        return await self.tickets.open_ticket_for(chat_id) is not None

    async def rate(self, chat_id: int, press: protocol.RateHandoff) -> bool:
        """A 👍/👎 under "the conversation has ended"."""
        return await self.tickets.rate(press.ticket, chat_id, 1 if press.up else -1)

    # ------------------------------------------------------------------ the staff's side

    async def from_staff(self, message: Message) -> None:
        """A message in a staff group: relayed to the user when it is in a ticket's topic."""
        if not self.is_staff_chat(message.chat_id) or not message.message_thread_id:
            return
        author = message.from_user
        if author is None or author.is_bot:
            return
        ticket = await self.tickets.by_topic(message.chat_id, message.message_thread_id)
        if ticket is None:
            return  # staff talking among themselves in another topic
        topic = (message.chat_id, message.message_thread_id)
        if ticket.state == "resolved":
            await self._staff_say(*topic, "staff_ticket_closed")
            return
        name = staff_name(author)
        text = message.text or ""
        if text.startswith("/"):
            command = StaffCommand.parse(text)
            if command is not None:
                await self._command(ticket, topic, author, command)
            return
        kind, words = describe(message)
        note = staff_note(text)
        if note is not None:
            await self.tickets.add_message(ticket.id, f"staff:{name}", note, kind="note")
            return
        if ticket.chat_id is None:  # encrypted with a data key no longer configured (the service logged it)
            await self._staff_say(*topic, "staff_not_delivered")
            return
        try:
            await self.bot.copy_message(ticket.chat_id, message.chat_id, message.message_id)
        except Forbidden:
            await self._staff_say(*topic, "staff_user_blocked")
            return
        except TelegramError as error:
            log.error("could not relay a staff message of ticket %s: %s", ticket.id, error)
            await self._staff_say(*topic, "staff_not_delivered")
            return
        await self.tickets.staff_replied(ticket.id, name, words, kind)

    async def on_button(self, update: Update, press: protocol.TicketAction) -> None:
        query = update.callback_query
        if query is None:
            raise ValueError(f"update {update.update_id} has no callback query")
        message = query.message if isinstance(query.message, Message) else None
        if message is None or message.message_thread_id is None:
            await self._answer(query, "button_expired")
            return
        ticket = await self.tickets.get(press.ticket)
        topic = (message.chat_id, message.message_thread_id)
        if not await self.is_staff(message.chat_id, query.from_user):
            log.warning("a non-member tried to act on a ticket")
            await self._answer(query, "staff_only", alert=True)
            return
        if ticket is None or ticket.state == "resolved" or (ticket.staff_chat_id, ticket.topic_id) != topic:
            await self._answer(query, "staff_ticket_closed", alert=True)
            return
        command = StaffCommand(StaffAction(press.action))
        if command.lacks_note:  # the reason can only be typed
            await self._answer(query, "staff_escalate_how", alert=True)
            return
        await self._answer(query, None)
        await self._act(ticket, topic, staff_name(query.from_user), command)

    async def is_staff(self, chat_id: int, user: User | None) -> bool:
        """Only members of the configured staff groups act on tickets (asked of Telegram each time)."""
        if user is None or user.is_bot or not self.is_staff_chat(chat_id):
            return False
        try:
            member = await self.bot.get_chat_member(chat_id, user.id)
        except TelegramError as error:
            log.warning("could not check a staff member: %s", error)
            return False
        return member.status in STAFF_STATUSES

    async def _command(self, ticket: TicketView, topic: tuple[int, int], author: User, command: StaffCommand) -> None:
        if not await self.is_staff(topic[0], author):
            await self._staff_say(*topic, "staff_only")
            return
        if command.lacks_note:
            await self._staff_say(*topic, "staff_escalate_how")
            return
        await self._act(ticket, topic, staff_name(author), command)

    async def _act(self, ticket: TicketView, topic: tuple[int, int], name: str, command: StaffCommand) -> None:
        """The command on the ticket, then what follows in Telegram: the topic told, closed or made anew, the user
        told."""
        try:
            changed = await carry_out(self.tickets, ticket.id, name, command)
        except HandoffError as refused:
            await deliver(self.bot, topic[0], Outgoing(escape(str(refused))), thread_id=topic[1])
            return
        if command.action is StaffAction.TAKE:
            await self._staff_say(*topic, "staff_taken_by", name=name)
        elif command.action is StaffAction.ESCALATE:
            await self._escalated(changed, topic, name, command.note)
        else:
            await self._resolved(changed, topic, name)

    async def _escalated(self, ticket: TicketView, topic: tuple[int, int], name: str, note: str) -> None:
        log.info("ticket %s escalated to the officers", ticket.id)
        with contextlib.suppress(TelegramError):
            await self._staff_say(*topic, "staff_escalated_by", name=name, note=note)
            await self.bot.close_forum_topic(*topic)
        try:
            await self._ensure_topic(ticket.id)
        except TelegramError as error:
            log.error("could not create the officers' topic of ticket %s yet: %s", ticket.id, error)
        if ticket.chat_id is not None:
            await deliver(self.bot, ticket.chat_id, Outgoing(say(ticket.language, "handoff_escalated")))

    async def _resolved(self, ticket: TicketView, topic: tuple[int, int], name: str) -> None:
        log.info("ticket %s resolved", ticket.id)
        with contextlib.suppress(TelegramError):
            await self._staff_say(*topic, "staff_resolved_by", name=name)
            await self.bot.close_forum_topic(*topic)
        up, down = protocol.RateHandoff(ticket.id, True), protocol.RateHandoff(ticket.id, False)
        buttons = [[Button("👍", up.data), Button("👎", down.data)]]
        if ticket.chat_id is not None:
            await deliver(self.bot, ticket.chat_id, Outgoing(say(ticket.language, "handoff_resolved"), buttons))

    # ------------------------------------------------------------------ topics

    async def _copy_to_topic(self, ticket_id: int, message: Message) -> None:
        for attempt in range(2):
            chat_id, topic_id = await self._ensure_topic(ticket_id)
            try:
                await self.bot.copy_message(chat_id, message.chat_id, message.message_id, message_thread_id=topic_id)
                return
            except BadRequest as error:
                if attempt or not _topic_gone(error):
                    raise
                log.warning("the topic of ticket %s is gone; making a new one", ticket_id)
                await self.tickets.forget_topic(ticket_id, topic_id)

    async def _ensure_topic(self, ticket_id: int) -> tuple[int, int]:
        """The ticket's topic, made (with the header and the transcript so far) when it has none."""
        ticket = await self.tickets.get(ticket_id)
        if ticket is None:
            raise HandoffError("No such ticket.")
        if ticket.topic_id is not None and ticket.staff_chat_id is not None:
            return ticket.staff_chat_id, ticket.topic_id
        chat_id = self.support_chat if ticket.queue == "support" else self.officers_chat
        if chat_id is None:
            raise HandoffError("No staff group is configured.")
        name = gettext(self.staff_language, TEXTS["staff_ticket_title"]).format(number=f"#{ticket.id}")
        topic = await self.bot.create_forum_topic(chat_id, f"{name} · {ticket.language}")
        if not await self.tickets.claim_topic(ticket.id, chat_id, topic.message_thread_id):
            with contextlib.suppress(TelegramError):  # another gateway made one first: use that
                await self.bot.close_forum_topic(chat_id, topic.message_thread_id)
            fresh = await self.tickets.get(ticket_id)
            if fresh is None or fresh.staff_chat_id is None or fresh.topic_id is None:
                raise HandoffError("The ticket's topic went away while it was made.")
            return fresh.staff_chat_id, fresh.topic_id
        for part in self.header(ticket):
            await deliver(self.bot, chat_id, part, thread_id=topic.message_thread_id)
        return chat_id, topic.message_thread_id

    def header(self, ticket: TicketView) -> list[Outgoing]:
        """The ticket's first message(s) in its topic: who, why, the conversation so far, the buttons."""
        lang = self.staff_language
        reason = gettext(lang, TEXTS.get(f"staff_reason_{ticket.reason}", ticket.reason))
        lines = [
            "<b>" + say(lang, "staff_ticket_title", number=f"#{ticket.id}") + "</b>",
            say(
                lang,
                "staff_ticket_header",
                user_language=LANGUAGE_NAMES.get(ticket.language, ticket.language),
                reason=reason,
                queue=ticket.queue,
            ),
        ]
        if ticket.escalation_note:
            lines += ["", "<b>" + say(lang, "staff_escalation_note", note=ticket.escalation_note) + "</b>"]
        lines += ["", "<b>" + say(lang, "staff_transcript") + "</b>"]
        transcript = [m for m in ticket.messages if m.author != "system"]
        if not transcript:
            lines.append("<i>" + say(lang, "staff_no_transcript") + "</i>")
        for line in transcript:
            mark = AUTHOR_MARK.get(line.author) or "🧑‍💼 " + escape(line.author.removeprefix("staff:")) + ":"
            kind = "" if line.kind == "text" else f"[{escape(line.kind)}] "
            lines.append(f"{mark} {kind}{escape(line.text)}")
        lines += ["", "<i>" + say(lang, "staff_how_to") + "</i>"]
        buttons = [Button(gettext(lang, TEXTS["staff_take"]), protocol.TicketAction("take", ticket.id).data)]
        if ticket.queue == "support":
            buttons.append(Button(gettext(lang, TEXTS["staff_escalate"]), protocol.TicketAction("esc", ticket.id).data))
        buttons.append(Button(gettext(lang, TEXTS["staff_resolve"]), protocol.TicketAction("done", ticket.id).data))
        parts = [Outgoing(part) for part in split_html("\n".join(lines))]
        parts[-1].buttons = [buttons]
        return parts

    async def _staff_say(self, chat_id: int, topic_id: int, key: str, **args: Any) -> None:
        with contextlib.suppress(TelegramError):
            await deliver(self.bot, chat_id, Outgoing(say(self.staff_language, key, **args)), thread_id=topic_id)

    async def _answer(self, query: Any, key: str | None, alert: bool = False) -> None:
        text = gettext(self.staff_language, TEXTS[key]) if key else None
        with contextlib.suppress(TelegramError):
            await query.answer(text, show_alert=alert)

    # ------------------------------------------------------------------ the sweeper

    def start(self) -> None:
        if self.available:
            self._sweeper.start()

    async def stop(self, grace_s: float = 5.0) -> None:
        await self._sweeper.stop()
        pending = list(self._background)
        if not pending:
            return
        # A topic being made is let finish: cancelled half-way, Telegram could have it and we not, and the
        # sweeper would make the ticket a second one.
        _, late = await asyncio.wait(pending, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def sweep(self) -> None:
        """Makes the topics Telegram refused earlier, so no ticket waits unseen."""
        for ticket_id in await self.tickets.without_topic():
            try:
                await self._ensure_topic(ticket_id)
            except TelegramError as error:
                log.error("still no staff topic for ticket %s: %s", ticket_id, error)
