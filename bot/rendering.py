"""Engine replies -> Telegram messages: localized, HTML-escaped, split under Telegram's 4096-character limit.

Every piece of text that did not come from our own templates (answers, arguments, anything an action
returns) is escaped, so no stored or user-provided text can break or inject markup.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import re
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_datetime

from assistant.i18n import BAKU, LANGUAGE_NAMES, format_day, gettext
from bot.texts import TEXTS
from handoff.models import REASONS as HANDOFF_REASONS

TELEGRAM_LIMIT = 4096
SOURCE_MAX_CHARS = 500  # a legal citation is a line; a longer one is cut rather than fill the message
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
    rated: str | None = None  # the entry whose rating buttons it carries (recorded when sent)


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


def shorten(text: str, limit: int) -> str:
    """`text`, or its first words within `limit` characters and an ellipsis (cut before escaping, so never
    inside an entity)."""
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:.") + "…"


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


def none_of_these(language: str) -> list[Button]:
    """The last row of a choice: none of these, a person instead."""
    return [Button(_title(language, "none_of_these") + " · " + _title(language, "talk_to_person"), HUMAN_PAYLOAD)]


def did_you_mean(language: str, payload: dict[str, Any]) -> Outgoing:
    rows = []
    for option in (payload.get("options") or [])[:3]:
        rows.append([faq_button(str(option.get("entry", "")), str(option.get("question", "")))])
    rows.append(none_of_these(language))
    return Outgoing(say(language, "did_you_mean"), rows)


def faq_button(entry: str, title: str) -> Button:
    return Button(shorten(title, 60), callback_data(f'/faq{{"entry":"{entry}"}}'))


def related_buttons(payload: dict[str, Any]) -> list[list[Button]]:
    """Up to three entries to read next, one per row, under an answer."""
    options = payload.get("related")
    if not isinstance(options, list):
        return []
    return [
        [faq_button(str(o.get("entry", "")), "➡️ " + str(o.get("question", "")))]
        for o in options[:3]
        if isinstance(o, dict) and o.get("entry")
    ]


def clarify(language: str, payload: dict[str, Any]) -> Outgoing:
    """Which subject a question means: one button per subject, named in the user's language."""
    rows = []
    for option in (payload.get("options") or [])[:4]:
        if not isinstance(option, dict) or not option.get("entry"):
            continue
        subject = f"subject_{option.get('subject')}"
        title = _title(language, subject) if subject in TEXTS else str(option.get("question", ""))
        rows.append([faq_button(str(option["entry"]), title)])
    rows.append(none_of_these(language))
    return Outgoing(say(language, "clarify"), rows)


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
    source = escape(shorten(str(payload.get("source") or ""), SOURCE_MAX_CHARS))
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
                entry = str(custom.get("entry"))
                rated = None if buttons else entry
                rows = (buttons or rating_buttons(entry)) + related_buttons(custom)
                out.append(Outgoing(render_answer(language, custom), rows, rated))
            elif kind == "clarify":
                out.append(clarify(language, custom))
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
        result.append(Outgoing(parts[-1], message.buttons, message.rated))  # buttons go under the last part
    return result


def split_html(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    """Splits into parts of at most `limit` UTF-16 units, each valid HTML on its own.

    Parts end at a line break where one fits, else at a space, else inside a word; never inside a tag or
    an `&...;` entity. Tags open at a cut are closed at the end of the part and opened again at the start
    of the next, so a long bold line or link stays bold or linked in both parts.
    """
    if utf16_len(text) <= limit:
        return [text]
    atoms, stacks = _atoms(text)
    parts: list[str] = []
    start = 0
    while start < len(atoms):
        if atoms[start].isspace():  # no part starts with the space or line break it was cut at
            start += 1
            continue
        end, at_break = _part_end(atoms, stacks, start, limit)
        part = "".join(stacks[start]) + "".join(atoms[start:end]) + _closers(stacks[end])
        if html.unescape(_ANY_TAG.sub("", part)).strip():
            parts.append(part)
        start = end + 1 if at_break else end
    return parts


# Tags, entities, line breaks, other spaces, words; a stray `<` or `&` (never in our output) alone.
_ATOM = re.compile(r"<[^<>]*>|&#?\w+;|\n|[^\S\n]+|[^<&\s]+|[<&]")
_TAG_NAME = re.compile(r"<\s*(/?)\s*([a-zA-Z][\w-]*)")
_ANY_TAG = re.compile(r"<[^<>]*>")


def _atoms(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """The pieces a part may start or end between, and before each (and after the last) the open tags."""
    atoms = _ATOM.findall(text)
    stacks: list[tuple[str, ...]] = []
    stack: list[str] = []
    for atom in atoms:
        stacks.append(tuple(stack))
        tag = _TAG_NAME.match(atom)
        if tag is None or not atom.endswith(">"):
            continue
        closing, name = tag.groups()
        if not closing:
            stack.append(atom)
        else:
            opened = [i for i, t in enumerate(stack) if _tag_name(t) == name.lower()]
            if opened:
                del stack[opened[-1]]
    stacks.append(tuple(stack))
    return atoms, stacks


def _is_opening(atom: str) -> bool:
    found = _TAG_NAME.match(atom)
    return found is not None and not found.group(1) and atom.endswith(">")


def _tag_name(tag: str) -> str:
    found = _TAG_NAME.match(tag)
    return found.group(2).lower() if found else ""


def _closers(stack: tuple[str, ...]) -> str:
    return "".join(f"</{_tag_name(tag)}>" for tag in reversed(stack))


@functools.lru_cache(maxsize=64)  # asked for at every piece; a text has few different sets of open tags
def _closers_units(stack: tuple[str, ...]) -> int:
    return utf16_len(_closers(stack))


def _part_end(atoms: list[str], stacks: list[tuple[str, ...]], start: int, limit: int) -> tuple[int, bool]:
    """Where the part starting at `start` ends, and whether it ends at a space or line break (dropped)."""
    size = utf16_len("".join(stacks[start]))
    newline = space = None
    end = start
    while end < len(atoms):
        fits_before = size + _closers_units(stacks[end]) <= limit
        if atoms[end] == "\n" and end > start and fits_before:
            newline = end
        elif atoms[end].isspace() and end > start and fits_before and size > limit // 2:
            space = end
        grown = size + utf16_len(atoms[end])
        if grown + _closers_units(stacks[end + 1]) > limit:
            break
        size, end = grown, end + 1
    if end == len(atoms):
        return end, False
    if newline is not None:
        return newline, True
    if space is not None:
        return space, True
    while end > start + 1 and _is_opening(atoms[end - 1]):
        end -= 1  # a tag opened just before the cut opens in the next part, not empty at this one's end
    if end > start:
        return end, False
    # One word longer than what is left: cut it (tags and entities are never this long).
    word = atoms[start]
    if word.startswith(("<", "&")):
        return start + 1, False  # cannot be cut; Telegram's refusal then sends the words unformatted
    room = limit - size - _closers_units(stacks[start])
    cut = used = 0
    while cut < len(word) and used + (2 if ord(word[cut]) > 0xFFFF else 1) <= room:
        used += 2 if ord(word[cut]) > 0xFFFF else 1
        cut += 1
    cut = max(cut, 1)
    atoms[start : start + 1] = [word[:cut], word[cut:]]
    stacks.insert(start + 1, stacks[start])
    return start + 1, False
