"""What one bot looks like from Telegram's side: its update queue, webhook, chats and what it sent.

The HTTP layer (`server.py`) turns requests into calls on `BotState`; errors are raised as `ApiError` with the
exact shape the real Bot API returns, so python-telegram-bot maps them to the same exceptions it would in
production (BadRequest, Forbidden, RetryAfter, Conflict...).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from telegram_emulator.html_check import ParseError, parse_html, utf16_len

MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64
CHAT_ACTIONS = {
    "typing",
    "upload_photo",
    "record_video",
    "upload_video",
    "record_voice",
    "upload_voice",
    "upload_document",
    "choose_sticker",
    "find_location",
    "record_video_note",
    "upload_video_note",
}
_COMMAND = re.compile(r"(?:(?<=\s)|^)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?")
_BOT_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")


class ApiError(Exception):
    def __init__(
        self, code: int, description: str, retry_after: int | None = None, migrate_to_chat_id: int | None = None
    ) -> None:
        super().__init__(description)
        self.code, self.description = code, description
        self.retry_after, self.migrate_to_chat_id = retry_after, migrate_to_chat_id

    def payload(self) -> dict[str, Any]:
        body: dict[str, Any] = {"ok": False, "error_code": self.code, "description": self.description}
        parameters = {}
        if self.retry_after is not None:
            parameters["retry_after"] = self.retry_after
        if self.migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = self.migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return body


def _command_entities(text: str) -> list[dict[str, Any]]:
    """The `bot_command` entities Telegram marks in a user's text."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in _COMMAND.finditer(text)
    ]


def bad_request(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Fault:
    """A scripted failure or delay for one Bot API method (or `*`), used by tests and benchmarks."""

    method: str
    error_code: int | None = None
    description: str = ""
    retry_after: int | None = None
    delay_s: float = 0.0
    times: int = 1  # how many calls it affects; -1 for every call

    def matches(self, method: str) -> bool:
        return self.times != 0 and (self.method == "*" or self.method.lower() == method.lower())


@dataclass
class Chat:
    id: int
    type: str  # private, group, supergroup, channel
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    is_forum: bool = False
    members: set[int] = field(default_factory=set)
    blocked_bot: bool = False
    next_message_id: int = 1
    topics: dict[int, dict[str, Any]] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)  # every message, user's and bot's

    def public(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.type == "private":
            data["first_name"] = self.first_name or "User"
            if self.username:
                data["username"] = self.username
        else:
            data["title"] = self.title or f"Chat {self.id}"
            if self.is_forum:
                data["is_forum"] = True
        return data

    def take_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


class BotState:
    def __init__(self, token: str) -> None:
        self.token = token
        bot_id = int(token.split(":", 1)[0])
        self.user = {
            "id": bot_id,
            "is_bot": True,
            "first_name": "Migration Assistant",
            "username": "migration_assistant_bot",
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.chats: dict[int, Chat] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self.changed = asyncio.Condition()  # notified on new updates and on new bot messages
        self.webhook: dict[str, Any] | None = None
        self.webhook_last_error: tuple[int, str] | None = None
        self.poll_generation = 0
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.chat_actions: list[dict[str, Any]] = []
        self.callback_queries: dict[str, dict[str, Any]] = {}
        self._callback_ids = itertools.count(1)
        self.faults: list[Fault] = []
        self.calls: dict[str, int] = defaultdict(int)
        self.bot_messages_sent = 0
        self.refusals: list[dict[str, Any]] = []  # Bot API calls refused as invalid (bad HTML, too long…)

    # ----- users and chats (the driver side) -----

    def ensure_private_chat(self, user: dict[str, Any]) -> Chat:
        self.users[user["id"]] = user
        chat = self.chats.get(user["id"])
        if chat is None:
            chat = Chat(id=user["id"], type="private", first_name=user.get("first_name"), username=user.get("username"))
            self.chats[chat.id] = chat
        return chat

    def create_group(self, chat_id: int, title: str, *, is_forum: bool, members: list[int]) -> Chat:
        chat = Chat(id=chat_id, type="supergroup", title=title, is_forum=is_forum, members=set(members))
        self.chats[chat_id] = chat
        return chat

    def chat(self, chat_id: Any) -> Chat:
        try:
            chat = self.chats[int(chat_id)]
        except (KeyError, TypeError, ValueError):
            raise bad_request("chat not found") from None
        if chat.blocked_bot:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def user_message(
        self, chat: Chat, user: dict[str, Any], content: dict[str, Any], thread_id: int | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": user,
            "chat": chat.public(),
            "date": int(time.time()),
            **content,
        }
        if thread_id is not None:
            if thread_id not in chat.topics:
                raise bad_request("message thread not found")
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        text = content.get("text")
        if isinstance(text, str) and (entities := _command_entities(text)):
            message["entities"] = entities
        chat.messages[message["message_id"]] = {**message, "_from_bot": False}
        return message

    def edit_user_message(self, chat: Chat, user: dict[str, Any], message_id: int, text: str) -> dict[str, Any]:
        """The user edits the text of a message they sent earlier (an `edited_message` update follows)."""
        stored = chat.messages.get(int(message_id))
        if stored is None or stored.get("_from_bot") or stored["from"]["id"] != user["id"] or "text" not in stored:
            raise bad_request("message to edit not found")
        stored.pop("entities", None)
        stored.update(text=text, edit_date=int(time.time()))
        if entities := _command_entities(text):
            stored["entities"] = entities
        return self.public_message(stored)

    async def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        async with self.changed:
            self.updates.append(update)
            self.changed.notify_all()
        return update

    async def push_raw_update(self, raw: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), **{k: v for k, v in raw.items() if k != "update_id"}}
        async with self.changed:
            self.updates.append(update)
            self.changed.notify_all()
        return update

    def press_button(
        self,
        chat_id: int,
        message_id: int,
        user: dict[str, Any],
        *,
        data: str | None = None,
        text: str | None = None,
        forged: bool = False,
    ) -> dict[str, Any]:
        """A press on a button of one of the bot's messages. `forged`: as a modified client can make one,
        with any data under any message id of any chat, sent or not (the bot must not trust either)."""
        chat = self.chats.get(int(chat_id))
        if chat is None:
            raise bad_request("chat not found")
        message = chat.messages.get(int(message_id))
        if forged and (message is None or not message.get("_from_bot")):
            stamp = int(time.time())
            message = {"message_id": int(message_id), "from": self.user, "chat": chat.public(), "date": stamp}
            message.update(text="…", _from_bot=True)
        if message is None or not message.get("_from_bot"):
            raise bad_request("message not found")
        buttons = [b for row in message.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        chosen = next(
            (
                b
                for b in buttons
                if (data is not None and b.get("callback_data") == data) or (text is not None and b.get("text") == text)
            ),
            None,
        )
        if chosen is None and data is None:
            raise bad_request("button not found")
        query_id = str(next(self._callback_ids))
        self.callback_queries[query_id] = {"answered": False, "answer": None}
        return {
            "id": query_id,
            "from": user,
            "message": self.public_message(message),
            "chat_instance": str(chat.id),
            "data": data if chosen is None else chosen.get("callback_data"),
        }

    # ----- the Bot API -----

    def public_message(self, stored: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in stored.items() if not k.startswith("_")}

    def _render_text(self, params: dict[str, Any], key: str = "text") -> tuple[str, list[dict], str]:
        raw = params.get(key)
        if raw is None or raw == "":
            raise bad_request("message text is empty")
        raw = str(raw)
        parse_mode = (params.get("parse_mode") or "").lower()
        if parse_mode == "html":
            try:
                parsed = parse_html(raw)
            except ParseError as error:
                raise ApiError(400, str(error)) from None
            text, entities = parsed.text, parsed.entities
        elif parse_mode in ("", "none"):
            text, entities = raw, list(params.get("entities") or [])
        elif parse_mode in ("markdown", "markdownv2"):
            text, entities = raw, []  # accepted as is: the gateway speaks HTML
        else:
            raise bad_request("unsupported parse_mode")
        if not text.strip():
            raise bad_request("message text is empty")
        if utf16_len(text) > MAX_TEXT:
            raise bad_request("message is too long")
        return text, entities, raw

    @staticmethod
    def _check_markup(markup: Any) -> dict[str, Any] | None:
        if markup in (None, "", {}):
            return None
        if not isinstance(markup, dict):
            raise bad_request("can't parse reply keyboard markup JSON object")
        if "inline_keyboard" in markup:
            rows = markup["inline_keyboard"]
            if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
                raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
            for row in rows:
                for button in row:
                    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                        raise bad_request("BUTTON_TEXT_INVALID")
                    if "callback_data" in button:
                        data = str(button["callback_data"])
                        if not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
                            raise bad_request("BUTTON_DATA_INVALID")
                    elif "url" in button:
                        if not re.match(r"^(https?|tg)://", str(button["url"])):
                            raise bad_request("BUTTON_URL_INVALID")
                    else:
                        raise bad_request("text buttons are unallowed in the inline keyboard")
        return markup

    def _thread(self, chat: Chat, params: dict[str, Any]) -> int | None:
        thread_id = params.get("message_thread_id")
        if thread_id in (None, ""):
            return None
        thread_id = int(thread_id)
        topic = chat.topics.get(thread_id)
        if topic is None:
            raise bad_request("message thread not found")
        if topic["closed"]:
            raise bad_request("TOPIC_CLOSED")
        return thread_id

    async def _store_bot_message(self, chat: Chat, content: dict[str, Any], thread_id: int | None) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.take_message_id(),
            "from": self.user,
            "chat": chat.public(),
            "date": int(time.time()),
            **content,
        }
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        async with self.changed:
            chat.messages[message["message_id"]] = {**message, "_from_bot": True, "_sent_at": time.monotonic()}
            self.bot_messages_sent += 1
            self.changed.notify_all()
        return message

    async def send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(params.get("chat_id"))
        thread_id = self._thread(chat, params)
        text, entities, raw = self._render_text(params)
        content: dict[str, Any] = {"text": text}
        if entities:
            content["entities"] = entities
        markup = self._check_markup(params.get("reply_markup"))
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup
        message = await self._store_bot_message(chat, content, thread_id)
        chat.messages[message["message_id"]]["_raw"] = raw
        chat.messages[message["message_id"]]["_parse_mode"] = params.get("parse_mode")
        return message

    async def copy_like(self, params: dict[str, Any], *, forward: bool) -> dict[str, Any]:
        """copyMessage / forwardMessage: re-sends a stored message's content to another chat or topic."""
        source_chat = self.chat(params.get("from_chat_id"))
        source = source_chat.messages.get(int(params.get("message_id", 0)))
        if source is None:
            raise bad_request("message to copy not found" if not forward else "message to forward not found")
        target = self.chat(params.get("chat_id"))
        thread_id = self._thread(target, params)
        keep = ("text", "entities", "photo", "document", "voice", "sticker", "caption", "location", "video")
        content = {k: v for k, v in source.items() if k in keep}
        if forward:
            content["forward_origin"] = {"type": "user", "sender_user": source.get("from"), "date": source["date"]}
        if params.get("caption") is not None and not forward:
            content["caption"] = str(params["caption"])
        markup = self._check_markup(params.get("reply_markup"))
        if markup:
            content["reply_markup"] = markup
        message = await self._store_bot_message(target, content, thread_id)
        return {"message_id": message["message_id"]} if not forward else message

    async def edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(params.get("chat_id"))
        stored = chat.messages.get(int(params.get("message_id", 0)))
        if stored is None or not stored.get("_from_bot"):
            raise bad_request("message to edit not found")
        text, entities, raw = self._render_text(params)
        markup = self._check_markup(params.get("reply_markup"))
        if (
            text == stored.get("text")
            and entities == stored.get("entities", [])
            and markup == stored.get("reply_markup")
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are exactly the same "
                "as a current content and reply markup of the message"
            )
        async with self.changed:
            stored.update({"text": text, "entities": entities, "edit_date": int(time.time()), "_raw": raw})
            stored.pop("reply_markup", None)
            if markup:
                stored["reply_markup"] = markup
            stored["_edits"] = stored.get("_edits", 0) + 1
            self.changed.notify_all()
        return self.public_message(stored)

    async def edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(params.get("chat_id"))
        stored = chat.messages.get(int(params.get("message_id", 0)))
        if stored is None or not stored.get("_from_bot"):
            raise bad_request("message to edit not found")
        markup = self._check_markup(params.get("reply_markup"))
        if markup == stored.get("reply_markup"):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        async with self.changed:
            stored.pop("reply_markup", None)
            if markup:
                stored["reply_markup"] = markup
            self.changed.notify_all()
        return self.public_message(stored)

    def answer_callback_query(self, params: dict[str, Any]) -> bool:
        query = self.callback_queries.get(str(params.get("callback_query_id")))
        if query is None or query["answered"]:
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        query.update(answered=True, answer={"text": text, "show_alert": bool(params.get("show_alert"))})
        return True

    def send_chat_action(self, params: dict[str, Any]) -> bool:
        chat = self.chat(params.get("chat_id"))
        action = params.get("action")
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append({"chat_id": chat.id, "action": action, "at": time.monotonic()})
        return True

    def set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("BOT_COMMANDS_TOO_MUCH" if isinstance(commands, list) else "commands must be an Array")
        for command in commands:
            if not _BOT_COMMAND_NAME.match(str(command.get("command", ""))):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        scope = (params.get("scope") or {}).get("type", "default")
        self.commands[(scope, params.get("language_code") or "")] = commands
        return True

    async def create_forum_topic(self, params: dict[str, Any]) -> dict[str, Any]:
        chat = self.chat(params.get("chat_id"))
        if not chat.is_forum:
            raise bad_request("the chat is not a forum")
        name = str(params.get("name") or "")
        if not 1 <= len(name) <= 128:
            raise bad_request("TOPIC_NAME_INVALID" if name else "topic name is empty")
        thread_id = chat.take_message_id()
        chat.topics[thread_id] = {"name": name, "closed": False}
        async with self.changed:
            chat.messages[thread_id] = {
                "message_id": thread_id,
                "chat": chat.public(),
                "date": int(time.time()),
                "message_thread_id": thread_id,
                "forum_topic_created": {"name": name, "icon_color": 7322096},
                "_from_bot": True,
                "_service": True,
            }
            self.changed.notify_all()
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    def chat_member(self, params: dict[str, Any]) -> dict[str, Any]:
        """getChatMember: "member" for members of a group (and the user of a private chat), else "left"."""
        chat = self.chat(params.get("chat_id"))
        try:
            user_id = int(params["user_id"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("invalid user_id specified") from None
        if user_id == self.user["id"]:
            return {
                "status": "administrator",
                "user": self.user,
                "can_be_edited": False,
                "can_manage_chat": True,
                "can_delete_messages": True,
                "can_manage_video_chats": False,
                "can_restrict_members": False,
                "can_promote_members": False,
                "can_change_info": False,
                "can_invite_users": True,
                "is_anonymous": False,
                "can_post_stories": False,
                "can_edit_stories": False,
                "can_delete_stories": False,
                "can_manage_topics": True,
            }
        user = self.users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": f"User{user_id}"}
        member = user_id in chat.members if chat.type != "private" else user_id == chat.id
        return {"status": "member" if member else "left", "user": user}

    def set_topic_closed(self, params: dict[str, Any], closed: bool) -> bool:
        chat = self.chat(params.get("chat_id"))
        topic = chat.topics.get(int(params.get("message_thread_id", 0)))
        if topic is None:
            raise bad_request("message thread not found")
        if topic["closed"] == closed:
            raise bad_request("TOPIC_NOT_MODIFIED")
        topic["closed"] = closed
        return True

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if self.webhook:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(params.get("offset") or 0)
        limit = max(1, min(100, int(params.get("limit") or 100)))
        timeout = max(0.0, min(50.0, float(params.get("timeout") or 0)))
        self.poll_generation += 1
        generation = self.poll_generation
        async with self.changed:
            while self.updates and self.updates[0]["update_id"] < offset:
                self.updates.popleft()
            deadline = time.monotonic() + timeout
            while not self.updates:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except TimeoutError:
                    break
                if self.poll_generation != generation:
                    raise ApiError(
                        409,
                        "Conflict: terminated by other getUpdates request; "
                        "make sure that only one bot instance is running",
                    )
                if self.webhook:
                    return []
            allowed = params.get("allowed_updates")
            batch = []
            for update in list(self.updates)[:limit]:
                kinds = [k for k in update if k != "update_id"]
                if allowed and kinds and kinds[0] not in allowed:
                    continue
                batch.append({k: v for k, v in update.items() if not k.startswith("_")})
            return batch

    def bot_messages(self, chat_id: int, after_id: int = 0) -> list[dict[str, Any]]:
        chat = self.chats.get(int(chat_id))
        if chat is None:
            return []
        return [
            {
                **self.public_message(m),
                "html": m.get("_raw"),
                "parse_mode": m.get("_parse_mode"),
                "edits": m.get("_edits", 0),
            }
            for mid, m in sorted(chat.messages.items())
            if m.get("_from_bot") and not m.get("_service") and mid > after_id
        ]

    async def wait_bot_messages(self, chat_id: int, after_id: int, count: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        async with self.changed:
            while True:
                found = self.bot_messages(chat_id, after_id)
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                try:
                    await asyncio.wait_for(self.changed.wait(), remaining)
                except TimeoutError:
                    return self.bot_messages(chat_id, after_id)

    def take_fault(self, method: str) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method):
                if fault.times > 0:
                    fault.times -= 1
                return fault
        return None
