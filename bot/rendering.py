"""Engine replies -> Telegram messages: localized, HTML-escaped, split under Telegram's 4096-character limit.

Every piece of text that did not come from our own templates (answers, arguments, anything an action
returns) is escaped, so no stored or user-provided text can break or inject markup.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_datetime

from assistant.i18n import BAKU, LANGUAGE_NAMES, format_day, gettext
from bot.texts import TEXTS
from handoff.models import REASONS as HANDOFF_REASONS

TELEGRAM_LIMIT = 4096
MAX_CALLBACK_BYTES = 64
LANGUAGE_FLAGS = {"az": "🇦🇿", "ru": "🇷🇺", "en": "🇬🇧"}


@dataclass
class Button:
    title: str
    data: str  # callback data, at most 64 bytes


@dataclass
class Outgoing:
    html: str
    buttons: list[list[Button]] = field(default_factory=list)


NOT_UNDERSTOOD_KEYS = frozenset({"no_answer", "not_understood"})


@dataclass
class Rendered:
    messages: list[Outgoing]
    new_language: str | None = None  # set when the engine switched the conversation language
    handoff: str | None = None  # set when the engine hands the chat to people (the reason)
    not_understood: bool = False  # the engine offered choices or said it has no answer (metrics)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def escape(text: Any) -> str:
    return html.escape(str(text), quote=False)


def _localize(language: str, name: str, value: Any) -> Any:
    """Arguments named `until` carry an ISO date-time: shown as day and time in Baku, in the user's language."""
    if name == "until" and isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_datetime(moment, "d MMMM HH:mm", tzinfo=BAKU, locale=language)
    return value


def say(language: str, key: str, **args: Any) -> str:
    """A catalog text as safe HTML; unknown keys fall back to the generic error text."""
    template = gettext(language, TEXTS.get(key, TEXTS["error"]))
    safe_args = {name: escape(_localize(language, name, value)) for name, value in args.items()}
    try:
        return escape(template).format(**safe_args) if safe_args else escape(template)
    except (KeyError, IndexError, ValueError):
        return escape(template)


def plain(language: str, key: str) -> str:
    """A catalog text as plain text (for callback answers, which are not HTML)."""
    return gettext(language, TEXTS.get(key, TEXTS["error"]))


def language_menu(language: str) -> Outgoing:
    row = [Button(f"{LANGUAGE_FLAGS[code]} {name}", f"lang:{code}") for code, name in LANGUAGE_NAMES.items()]
    return Outgoing(say(language, "language_menu"), [row])


def callback_data(payload: str) -> str:
    """Engine button payloads longer than Telegram allows are replaced by a stable digest reference."""
    if len(payload.encode("utf-8")) <= MAX_CALLBACK_BYTES:
        return payload
    return "ref:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


HUMAN_PAYLOAD = "/human_handoff"


def _title(language: str, key: str) -> str:
    return gettext(language, TEXTS[key])


def rating_buttons(entry: str) -> list[list[Button]]:
    return [[Button("👍", f"rate:+:{entry}"), Button("👎", f"rate:-:{entry}")]]


def did_you_mean(language: str, payload: dict[str, Any]) -> Outgoing:
    rows = []
    for option in (payload.get("options") or [])[:3]:
        entry, question = str(option.get("entry", "")), str(option.get("question", ""))
        title = question if len(question) <= 60 else question[:59] + "…"
        rows.append([Button(title, callback_data(f'/faq{{"entry":"{entry}"}}'))])
    rows.append([Button(_title(language, "none_of_these") + " · " + _title(language, "talk_to_person"), HUMAN_PAYLOAD)])
    return Outgoing(say(language, "did_you_mean"), rows)


def _text(language: str, key: str, fallback: str) -> str:
    return gettext(language, TEXTS[key]) if key in TEXTS else fallback


def render_case_status(language: str, payload: dict[str, Any]) -> str:
    """An application's status from the case API, in the user's language, with CLDR dates."""

    def day(value: Any) -> str | None:
        try:
            return format_day(language, dt.date.fromisoformat(str(value))) if value else None
        except ValueError:
            return None

    def line(key: str, **args: Any) -> str:
        return escape(gettext(language, TEXTS[key])).format(**{k: escape(v) for k, v in args.items()})

    service = str(payload.get("service_type", ""))
    state = str(payload.get("status", ""))
    lines = [
        "<b>"
        + line("status_title", number=payload.get("application_number", ""))
        + "</b> · "
        + escape(_text(language, f"service_{service}", service)),
        "<b>" + line("status_line", status=_text(language, f"state_{state}", state)) + "</b>",
    ]
    for key, field_name in (
        ("status_submitted", "submitted_on"),
        ("status_updated", "updated_on"),
        ("status_decision", "decision_on"),
        ("status_valid_until", "valid_until"),
    ):
        if (value := day(payload.get(field_name))) is not None:
            lines.append(line(key, date=value))
    step = payload.get("next_step")
    if step and f"next_{step}" in TEXTS:
        lines += ["", escape(gettext(language, TEXTS[f"next_{step}"]))]
    missing = [str(d) for d in payload.get("missing_documents") or []]
    if missing:
        lines.append(line("status_missing"))
        lines += ["• " + escape(_text(language, f"document_{d}", d)) for d in missing]
    if payload.get("office"):
        lines += ["", line("status_office", office=payload["office"])]
    return "\n".join(lines)


def render_answer(language: str, payload: dict[str, Any]) -> str:
    lines = [f"<b>{escape(payload.get('question', ''))}</b>", "", escape(payload.get("text", ""))]
    source = escape(payload.get("source", ""))
    url = payload.get("source_url")
    if source:
        if url and str(url).startswith(("http://", "https://")):
            source = f'<a href="{html.escape(str(url), quote=True)}">{source}</a>'
        lines += ["", "📖 <i>" + escape(gettext(language, TEXTS["answer_source"])).format(source=source) + "</i>"]
    reviewed = payload.get("reviewed_on")
    if reviewed:
        try:
            day = format_day(language, dt.date.fromisoformat(str(reviewed)))
            lines.append("<i>" + escape(gettext(language, TEXTS["answer_reviewed"]).format(date=day)) + "</i>")
        except ValueError:
            pass
    if payload.get("review_state") == "needs_review":
        lines += ["", "⚠️ " + say(language, "answer_needs_review")]
    return "\n".join(lines)


def render(language: str, engine_messages: list[dict[str, Any]]) -> Rendered:
    """Turns the engine's reply list into Telegram messages in `language` (or the language it switches to)."""
    out: list[Outgoing] = []
    new_language: str | None = None
    handoff: str | None = None
    not_understood = False
    for message in engine_messages:
        custom = message.get("custom")
        buttons = [
            [Button(str(b.get("title", ""))[:64] or "…", callback_data(str(b.get("payload", ""))))]
            for b in message.get("buttons") or []
            if b.get("payload")
        ]
        if isinstance(custom, dict):
            kind = custom.get("type")
            if kind == "say":
                not_understood = not_understood or custom.get("key") in NOT_UNDERSTOOD_KEYS
                args = custom.get("args")
                if not isinstance(args, dict):
                    args = {}
                if custom.get("offer_human"):
                    buttons = [*buttons, [Button(_title(language, "talk_to_person"), HUMAN_PAYLOAD)]]
                out.append(Outgoing(say(language, str(custom.get("key")), **args), buttons))
            elif kind == "answer":
                out.append(
                    Outgoing(render_answer(language, custom), buttons or rating_buttons(str(custom.get("entry"))))
                )
            elif kind == "did_you_mean":
                not_understood = True
                out.append(did_you_mean(language, custom))
            elif kind == "case_status":
                if isinstance(custom.get("subscribe"), int):
                    buttons = [
                        *buttons,
                        [Button("🔔 " + _title(language, "status_notify_me"), f"sub:{custom['subscribe']}")],
                    ]
                out.append(Outgoing(render_case_status(language, custom), buttons))
            elif kind == "set_language" and custom.get("language") in LANGUAGE_NAMES:
                new_language = language = custom["language"]
                out.append(Outgoing(say(language, "language_set")))
            elif kind == "language_menu":
                out.append(language_menu(language))
            elif kind == "handoff" and custom.get("reason") in HANDOFF_REASONS:
                handoff = custom["reason"]
            continue
        if message.get("text"):
            out.append(Outgoing(escape(message["text"]), buttons))
    return Rendered(split_all(out), new_language, handoff, not_understood or (not out and handoff is None))


def split_all(messages: list[Outgoing]) -> list[Outgoing]:
    result: list[Outgoing] = []
    for message in messages:
        parts = split_html(message.html)
        result.extend(Outgoing(part) for part in parts[:-1])
        result.append(Outgoing(parts[-1], message.buttons))  # buttons go under the last part
    return result


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Splits at line boundaries; each line we render is balanced HTML, so every part stays valid.

    A single line longer than the limit holds no markup of ours (only escaped text), so it is cut at
    spaces, never inside an `&...;` entity.
    """
    if utf16_len(text) <= limit:
        return [text]
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        pieces = [line] if utf16_len(line) <= limit else _cut_long_line(line, limit)
        for piece in pieces:
            candidate = piece if not current else current + "\n" + piece
            if utf16_len(candidate) <= limit:
                current = candidate
            else:
                if current.strip():
                    parts.append(current)
                current = piece
    if current.strip():
        parts.append(current)
    return parts


def _cut_long_line(line: str, limit: int) -> list[str]:
    pieces: list[str] = []
    while utf16_len(line) > limit:
        cut = limit
        while utf16_len(line[:cut]) > limit:
            cut -= 1
        space = line.rfind(" ", 0, cut)
        if space > limit // 2:
            cut = space
        amp = line.rfind("&", 0, cut)
        if amp != -1 and ";" not in line[amp:cut]:
            cut = amp  # never split an entity such as &amp;
        pieces.append(line[:cut])
        line = line[cut:].lstrip(" ")
    if line:
        pieces.append(line)
    return pieces
