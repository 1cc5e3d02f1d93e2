"""Sending one rendered message to a chat (or a forum topic), safely."""

from __future__ import annotations

import html
import logging
import re

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden

from bot.rendering import Outgoing

log = logging.getLogger(__name__)
_TAG = re.compile(r"<[^>]+>")


def markup(outgoing: Outgoing) -> InlineKeyboardMarkup | None:
    if not outgoing.buttons:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b.title, callback_data=b.data) for b in row] for row in outgoing.buttons]
    )


async def deliver(
    bot: Bot, chat_id: int, outgoing: Outgoing, *, thread_id: int | None = None, quiet_if_blocked: bool = True
) -> Message | None:
    """Sends HTML; None when the user has blocked the bot (unless `quiet_if_blocked` is False)."""
    try:
        return await bot.send_message(
            chat_id,
            outgoing.html,
            parse_mode=ParseMode.HTML,
            reply_markup=markup(outgoing),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            message_thread_id=thread_id,
        )
    except BadRequest as error:
        if "parse entities" not in str(error).lower():
            raise
        # Our rendering escapes everything, so this should never happen; if it does, the user still gets
        # the words, without formatting.
        log.error("Telegram rejected our HTML (%s); sending plain text", error)
        plain = html.unescape(_TAG.sub("", outgoing.html))
        return await bot.send_message(chat_id, plain, reply_markup=markup(outgoing), message_thread_id=thread_id)
    except Forbidden:
        if not quiet_if_blocked:
            raise
        log.info("chat %s has blocked the bot; reply dropped", chat_id)
        return None


def as_plain(outgoing_html: str) -> str:
    """The words of a rendered message, for transcripts."""
    return html.unescape(_TAG.sub("", outgoing_html))
