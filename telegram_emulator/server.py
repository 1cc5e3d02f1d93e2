"""An aiohttp server that speaks the Telegram Bot API over plain HTTP, plus a driver API for tests.

Bot side:    POST|GET /bot<token>/<method>       (what python-telegram-bot calls through `base_url`)
Driver side: /_emulator/<token>/...              (inject user messages and button presses, read replies,
                                                  script faults) -- see `driver.py` for the client.

Parameters arrive as JSON, form data (python-telegram-bot sends form fields whose non-string values are
JSON-encoded) or query strings, exactly as the real server accepts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from telegram_emulator.state import ApiError, BotState, Fault

log = logging.getLogger(__name__)
_TOKEN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{1,100}$")
_INT_FIELDS = {
    "chat_id",
    "message_id",
    "from_chat_id",
    "message_thread_id",
    "offset",
    "limit",
    "timeout",
    "max_connections",
    "user_id",
}
STATES: web.AppKey[dict[str, BotState]] = web.AppKey("states", dict)
WEBHOOK_TASKS: web.AppKey[dict[str, asyncio.Task]] = web.AppKey("webhook_tasks", dict)
HTTP: web.AppKey[ClientSession] = web.AppKey("http", ClientSession)


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    if key in _INT_FIELDS:
        with contextlib.suppress(ValueError):
            return int(value)
        return value
    if value[:1] in "[{" or value in ("true", "false"):
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            try:
                body = await request.json()
            except ValueError:
                raise ApiError(400, "Bad Request: can't parse JSON") from None
            if isinstance(body, dict):
                params.update(body)
        else:
            form = await request.post()
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    return {k: _decode(k, v) for k, v in params.items()}


def _state(app: web.Application, token: str) -> BotState:
    if not _TOKEN.match(token):
        raise ApiError(401, "Unauthorized")
    states = app[STATES]
    if token not in states:
        states[token] = BotState(token)
    return states[token]


# ---------------------------------------------------------------- Bot API


async def bot_api(request: web.Request) -> web.Response:
    token, method = request.match_info["token"], request.match_info["method"]
    fault = state = None
    try:
        state = _state(request.app, token)
        state.calls[method.lower()] += 1
        fault = state.take_fault(method)
        if fault and fault.delay_s:
            await asyncio.sleep(fault.delay_s)
        if fault and fault.error_code:
            raise ApiError(fault.error_code, fault.description or "Internal Server Error", fault.retry_after)
        params = await _params(request)
        handler = _METHODS.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        result = await handler(request.app, state, params)
    except ApiError as error:
        if state is not None and not (fault and fault.error_code):  # a refusal the bot earned, not one a test scripted
            state.refusals.append({"method": method, "error_code": error.code, "description": error.description})
        return web.json_response(error.payload(), status=error.code)
    return web.json_response({"ok": True, "result": result})


async def _get_me(app, state: BotState, params):
    return state.user


async def _get_updates(app, state: BotState, params):
    return await state.get_updates(params)


async def _set_webhook(app, state: BotState, params):
    url = str(params.get("url") or "")
    if not url:
        return await _delete_webhook(app, state, params)
    if not re.match(r"^https?://", url):
        raise ApiError(400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None and not re.match(r"^[A-Za-z0-9_-]{1,256}$", str(secret)):
        raise ApiError(400, "Bad Request: bad webhook: secret token contains unallowed characters")
    if params.get("drop_pending_updates"):
        state.updates.clear()
    state.webhook = {
        "url": url,
        "secret_token": secret,
        "max_connections": int(params.get("max_connections") or 40),
        "allowed_updates": params.get("allowed_updates"),
    }
    _restart_delivery(app, state)
    return True


async def _delete_webhook(app, state: BotState, params):
    state.webhook = None
    task = app[WEBHOOK_TASKS].pop(state.token, None)
    if task:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    if params.get("drop_pending_updates"):
        state.updates.clear()
    async with state.changed:
        state.changed.notify_all()
    return True


async def _get_webhook_info(app, state: BotState, params):
    info: dict[str, Any] = {"url": "", "has_custom_certificate": False, "pending_update_count": len(state.updates)}
    if state.webhook:
        info.update(url=state.webhook["url"], max_connections=state.webhook["max_connections"])
        if state.webhook.get("allowed_updates"):
            info["allowed_updates"] = state.webhook["allowed_updates"]
    if state.webhook_last_error:
        info["last_error_date"], info["last_error_message"] = state.webhook_last_error
    return info


async def _send_message(app, state: BotState, params):
    return await state.send_message(params)


async def _edit_message_text(app, state: BotState, params):
    return await state.edit_message_text(params)


async def _edit_message_reply_markup(app, state: BotState, params):
    return await state.edit_message_reply_markup(params)


async def _answer_callback_query(app, state: BotState, params):
    return state.answer_callback_query(params)


async def _send_chat_action(app, state: BotState, params):
    return state.send_chat_action(params)


async def _set_my_commands(app, state: BotState, params):
    return state.set_my_commands(params)


async def _get_my_commands(app, state: BotState, params):
    scope = (params.get("scope") or {}).get("type", "default")
    return state.commands.get((scope, params.get("language_code") or ""), [])


async def _delete_my_commands(app, state: BotState, params):
    scope = (params.get("scope") or {}).get("type", "default")
    state.commands.pop((scope, params.get("language_code") or ""), None)
    return True


async def _create_forum_topic(app, state: BotState, params):
    return await state.create_forum_topic(params)


async def _close_forum_topic(app, state: BotState, params):
    return state.set_topic_closed(params, True)


async def _reopen_forum_topic(app, state: BotState, params):
    return state.set_topic_closed(params, False)


async def _copy_message(app, state: BotState, params):
    return await state.copy_like(params, forward=False)


async def _forward_message(app, state: BotState, params):
    return await state.copy_like(params, forward=True)


async def _get_chat_member(app, state: BotState, params):
    return state.chat_member(params)


async def _log_out(app, state: BotState, params):
    return True


_METHODS: dict[str, Callable[[web.Application, BotState, dict[str, Any]], Awaitable[Any]]] = {
    "getme": _get_me,
    "getupdates": _get_updates,
    "setwebhook": _set_webhook,
    "deletewebhook": _delete_webhook,
    "getwebhookinfo": _get_webhook_info,
    "sendmessage": _send_message,
    "editmessagetext": _edit_message_text,
    "editmessagereplymarkup": _edit_message_reply_markup,
    "answercallbackquery": _answer_callback_query,
    "sendchataction": _send_chat_action,
    "setmycommands": _set_my_commands,
    "getmycommands": _get_my_commands,
    "deletemycommands": _delete_my_commands,
    "createforumtopic": _create_forum_topic,
    "closeforumtopic": _close_forum_topic,
    "reopenforumtopic": _reopen_forum_topic,
    "copymessage": _copy_message,
    "forwardmessage": _forward_message,
    "getchatmember": _get_chat_member,
    "logout": _log_out,
    "close": _log_out,
}


# ---------------------------------------------------------------- webhook delivery


def _restart_delivery(app: web.Application, state: BotState) -> None:
    tasks = app[WEBHOOK_TASKS]
    old = tasks.pop(state.token, None)
    if old:
        old.cancel()
    tasks[state.token] = asyncio.get_running_loop().create_task(_deliver(app, state, after=old))


def _chat_of(update: dict[str, Any]) -> Any:
    for kind, payload in update.items():
        if kind == "update_id" or not isinstance(payload, dict):
            continue
        chat = payload.get("chat") or (payload.get("message") or {}).get("chat")
        if chat:
            return chat.get("id")
        if "from" in payload:
            return payload["from"].get("id")
    return None


async def _deliver(app: web.Application, state: BotState, after: asyncio.Task | None = None) -> None:
    """POSTs pending updates to the webhook: concurrently across chats, in order within a chat, and retrying
    a failed delivery with backoff, as Telegram does (an update is dropped only once delivered). `after`: the
    previous webhook's deliverer, whose unacknowledged updates must be released before this one starts."""
    if after is not None:
        await asyncio.gather(after, return_exceptions=True)
    http = app[HTTP]
    in_flight: set[Any] = set()
    tasks: set[asyncio.Task] = set()

    async def post(update: dict[str, Any], chat: Any) -> None:
        hook = state.webhook or {}
        body = json.dumps({k: v for k, v in update.items() if not k.startswith("_")})
        headers = {"Content-Type": "application/json"}
        if hook.get("secret_token"):
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        delay = 0.2
        try:
            while state.webhook:
                try:
                    async with http.post(
                        hook["url"], data=body, headers=headers, timeout=ClientTimeout(total=60)
                    ) as response:
                        if 200 <= response.status < 300:
                            break
                        state.webhook_last_error = (
                            int(asyncio.get_running_loop().time()),
                            f"Wrong response from the webhook: {response.status}",
                        )
                except (ClientError, TimeoutError) as error:  # any transport failure is retried
                    state.webhook_last_error = (
                        int(asyncio.get_running_loop().time()),
                        f"Connection failed: {type(error).__name__}",
                    )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            async with state.changed:
                with contextlib.suppress(ValueError):
                    state.updates.remove(update)
                state.changed.notify_all()
        except asyncio.CancelledError:
            update.pop("_delivering", None)  # not acknowledged: the next webhook gets it, as Telegram does
            raise
        finally:
            in_flight.discard(chat)

    try:
        await _deliver_pending(state, in_flight, tasks, post)
    finally:  # webhook changed or deleted, or the emulator stops: no delivery outlives its deliverer
        running = list(tasks)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)


async def _deliver_pending(state: BotState, in_flight: set[Any], tasks: set[asyncio.Task], post: Any) -> None:
    while True:
        async with state.changed:
            hook = state.webhook
            if hook is None:
                return
            started = False
            for update in list(state.updates):
                chat = _chat_of(update)
                if update.get("_delivering") or chat in in_flight:
                    continue
                if len(in_flight) >= hook["max_connections"]:
                    break
                update["_delivering"] = True
                in_flight.add(chat)
                task = asyncio.get_running_loop().create_task(post(update, chat))
                task.add_done_callback(tasks.discard)
                tasks.add(task)
                started = True
            if not started:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(state.changed.wait(), 1.0)


# ---------------------------------------------------------------- driver API


def _user(body: dict[str, Any], user_id: int) -> dict[str, Any]:
    user = {"id": user_id, "is_bot": False, "first_name": body.get("first_name") or f"User{user_id}"}
    if body.get("language_code"):
        user["language_code"] = body["language_code"]
    if body.get("username"):
        user["username"] = body["username"]
    return user


_CONTENT_KINDS = {
    "sticker": lambda b: {
        "sticker": {
            "file_id": "CAACAgIAAxkBAAIB",
            "file_unique_id": "AgADsticker",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": b.get("emoji", "😀"),
        }
    },
    "photo": lambda b: {
        "photo": [
            {"file_id": "AgACAgIAAxkBAAIC", "file_unique_id": "AQADphoto", "width": 90, "height": 90, "file_size": 1200}
        ],
        **({"caption": b["caption"]} if b.get("caption") else {}),
    },
    "voice": lambda b: {
        "voice": {"file_id": "AwACAgIAAxkBAAID", "file_unique_id": "AgADvoice", "duration": 3, "mime_type": "audio/ogg"}
    },
    "document": lambda b: {
        "document": {
            "file_id": "BQACAgIAAxkBAAIE",
            "file_unique_id": "AgADdoc",
            "file_name": b.get("file_name", "passport.pdf"),
            "mime_type": "application/pdf",
        },
        **({"caption": b["caption"]} if b.get("caption") else {}),
    },
    "location": lambda b: {"location": {"latitude": 40.4093, "longitude": 49.8671}},
    "contact": lambda b: {"contact": {"phone_number": b.get("phone_number", "+994501234567"), "first_name": "Contact"}},
    "video": lambda b: {
        "video": {
            "file_id": "BAACAgIAAxkBAAIF",
            "file_unique_id": "AgADvideo",
            "width": 640,
            "height": 360,
            "duration": 5,
        }
    },
}


async def _json(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body must be JSON") from None
    return body if isinstance(body, dict) else {}


async def drv_send(request: web.Request) -> web.Response:
    """A user sends something: {"user_id", "text"} or {"user_id", "kind": "sticker"|"photo"|...}."""
    state = _state(request.app, request.match_info["token"])
    body = await _json(request)
    # A Telegram client sends the same profile (name, language_code) with every message.
    known = state.users.get(int(body["user_id"]), {})
    user = {**known, **_user({**known, **body}, int(body["user_id"]))}
    chat_id = body.get("chat_id")
    if chat_id is None or int(chat_id) == user["id"]:
        chat = state.ensure_private_chat(user)
    else:
        found = state.chats.get(int(chat_id))
        if found is None:
            raise web.HTTPBadRequest(text="chat not found")
        chat = found
        if user["id"] not in chat.members:
            # As in a private group: only members can post (a test may let the user join first).
            if not body.get("join"):
                raise web.HTTPBadRequest(text="user is not a member of the chat")
            chat.members.add(user["id"])
        state.users[user["id"]] = user
    kind = body.get("kind", "text")
    if kind == "text":
        content = {"text": str(body.get("text", ""))}
    elif kind in _CONTENT_KINDS:
        content = _CONTENT_KINDS[kind](body)
    else:
        raise web.HTTPBadRequest(text=f"unknown kind {kind}")
    try:
        if body.get("edited") and body.get("message_id") is not None:  # an earlier message's text, edited
            message = state.edit_user_message(chat, user, int(body["message_id"]), content.get("text", ""))
        else:
            message = state.user_message(chat, user, content, body.get("message_thread_id"))
    except ApiError as error:
        raise web.HTTPBadRequest(text=error.description) from None
    update = await state.push_update("edited_message" if body.get("edited") else "message", message)
    return web.json_response({"update_id": update["update_id"], "message": message})


async def drv_press(request: web.Request) -> web.Response:
    """A user presses an inline button: {"user_id", "chat_id", "message_id", "data"|"text"}; with "forged": true,
    any data under any message id, as a modified client can send."""
    state = _state(request.app, request.match_info["token"])
    body = await _json(request)
    user = state.users.get(int(body["user_id"])) or _user(body, int(body["user_id"]))
    try:
        query = state.press_button(
            int(body["chat_id"]),
            int(body["message_id"]),
            user,
            data=body.get("data"),
            text=body.get("text"),
            forged=bool(body.get("forged")),
        )
    except ApiError as error:
        raise web.HTTPBadRequest(text=error.description) from None
    update = await state.push_update("callback_query", query)
    return web.json_response({"update_id": update["update_id"], "callback_query_id": query["id"]})


async def drv_raw_update(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    update = await state.push_raw_update(await _json(request))
    return web.json_response({"update_id": update["update_id"]})


async def drv_create_chat(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    body = await _json(request)
    chat = state.create_group(
        int(body["id"]),
        body.get("title", "Staff"),
        is_forum=bool(body.get("is_forum")),
        members=[int(m) for m in body.get("members", [])],
    )
    return web.json_response(chat.public())


async def drv_members(request: web.Request) -> web.Response:
    """Changes a group's members: {"add": [user ids], "remove": [user ids]}."""
    state = _state(request.app, request.match_info["token"])
    chat = state.chats.get(int(request.match_info["chat_id"]))
    if chat is None:
        raise web.HTTPNotFound(text="no such chat")
    body = await _json(request)
    chat.members |= {int(m) for m in body.get("add", [])}
    chat.members -= {int(m) for m in body.get("remove", [])}
    return web.json_response(sorted(chat.members))


async def drv_block(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    body = await _json(request)
    chat = state.chats[int(body["chat_id"])]
    chat.blocked_bot = bool(body.get("blocked", True))
    return web.json_response({"ok": True})


async def drv_messages(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    chat_id = int(request.match_info["chat_id"])
    after_id = int(request.query.get("after_id", 0))
    count = int(request.query.get("count", 0))
    timeout = min(float(request.query.get("timeout", 0)), 120.0)
    if count:
        messages = await state.wait_bot_messages(chat_id, after_id, count, timeout)
    else:
        messages = state.bot_messages(chat_id, after_id)
    return web.json_response(messages)


async def drv_topics(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    chat = state.chats.get(int(request.match_info["chat_id"]))
    topics = {} if chat is None else {str(k): v for k, v in chat.topics.items()}
    return web.json_response(topics)


async def drv_callback_answer(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    query = state.callback_queries.get(request.match_info["query_id"])
    if query is None:
        raise web.HTTPNotFound(text="no such callback query")
    return web.json_response(query)


async def drv_info(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    return web.json_response(
        {
            "calls": dict(state.calls),
            "pending_updates": len(state.updates),
            "webhook": state.webhook and {k: v for k, v in state.webhook.items() if k != "secret_token"},
            "commands": {f"{scope}:{lang}": cmds for (scope, lang), cmds in state.commands.items()},
            "chat_actions": state.chat_actions[-200:],
            "bot_messages_sent": state.bot_messages_sent,
            "refusals": state.refusals[-200:],
        }
    )


async def drv_faults(request: web.Request) -> web.Response:
    state = _state(request.app, request.match_info["token"])
    if request.method == "DELETE":
        state.faults.clear()
        return web.json_response({"ok": True})
    body = await _json(request)
    state.faults.append(Fault(**{k: v for k, v in body.items() if k in Fault.__dataclass_fields__}))
    return web.json_response({"ok": True})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"ok": True, "bots": len(request.app[STATES])})


async def _http_client(app: web.Application):
    app[HTTP] = ClientSession()
    yield
    tasks = list(app[WEBHOOK_TASKS].values())
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await app[HTTP].close()


def make_app() -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[STATES] = {}
    app[WEBHOOK_TASKS] = {}
    app.cleanup_ctx.append(_http_client)
    prefix = "/_emulator/{token}"
    app.add_routes(
        [
            web.get("/health", health),
            web.route("*", "/bot{token}/{method}", bot_api),
            web.post(prefix + "/messages", drv_send),
            web.post(prefix + "/press", drv_press),
            web.post(prefix + "/updates", drv_raw_update),
            web.post(prefix + "/chats", drv_create_chat),
            web.post(prefix + "/chats/{chat_id}/members", drv_members),
            web.post(prefix + "/block", drv_block),
            web.get(prefix + "/chats/{chat_id}/messages", drv_messages),
            web.get(prefix + "/chats/{chat_id}/topics", drv_topics),
            web.get(prefix + "/callbacks/{query_id}", drv_callback_answer),
            web.get(prefix + "/info", drv_info),
            web.post(prefix + "/faults", drv_faults),
            web.delete(prefix + "/faults", drv_faults),
        ]
    )
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local Telegram Bot API emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    args = parser.parse_args(argv)
    from core.logs import configure_logging

    configure_logging("emulator")
    # Long polls (getUpdates, the driver's waits) outlive their clients: a client that went away does not
    # cancel its handler, and the default graceful stop would wait 60 s for them. They only read state.
    web.run_app(make_app(), host=args.host, port=args.port, print=None, access_log=None, shutdown_timeout=0.5)


if __name__ == "__main__":
    main()
