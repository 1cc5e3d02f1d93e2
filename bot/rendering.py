"""Engine replies -> Telegram messages: localized, HTML-escaped, split under Telegram's 4096-character limit.

Every piece of text that did not come from our own templates (answers, arguments, anything an action
returns) is escaped, so no stored or user-provided text can break or inject markup.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import html
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from babel.dates import format_datetime

from analytics.outcomes import SAY_OUTCOMES, stronger
from bot.texts import TEXTS
from core import protocol
from core.i18n import BAKU, LANGUAGE_NAMES, format_day, gettext
from handoff.models import REASONS as HANDOFF_REASONS

log = logging.getLogger(__name__)
TELEGRAM_LIMIT = 4096
SOURCE_MAX_CHARS = 500  # a legal citation is a line; a longer one is cut rather than fill the message
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
    outcome: str = "other"  # what became of the message (analytics/outcomes.py)
    entry: str | None = None  # the entry answered from, if any


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
    row = [
        Button(f"{LANGUAGE_FLAGS[code]} {name}", protocol.ChooseLanguage(code).data)
        for code, name in LANGUAGE_NAMES.items()
    ]
    return Outgoing(say(language, "language_menu"), [row])


def callback_data(payload: str) -> str:
    """Engine button payloads longer than Telegram allows are replaced by a stable digest reference."""
    if len(payload.encode("utf-8")) <= protocol.MAX_BUTTON_BYTES:
        return payload
    return "ref:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:40]


HUMAN_PAYLOAD = protocol.HUMAN_HANDOFF.payload


def _title(language: str, key: str) -> str:
    return gettext(language, TEXTS[key])


def rating_buttons(entry: str) -> list[list[Button]]:
    return [[Button("👍", protocol.RateAnswer(entry, True).data), Button("👎", protocol.RateAnswer(entry, False).data)]]


def none_of_these(language: str) -> list[Button]:
    """The last row of a choice: none of these, a person instead."""
    return [Button(_title(language, "none_of_these") + " · " + _title(language, "talk_to_person"), HUMAN_PAYLOAD)]


def faq_button(entry: str, title: str) -> Button:
    return Button(shorten(title, 60), callback_data(protocol.SayToEngine.pick(entry).data))


def did_you_mean(language: str, message: protocol.DidYouMean) -> Outgoing:
    rows = [[faq_button(option.entry, option.question)] for option in message.options[:3]]
    return Outgoing(say(language, "did_you_mean"), [*rows, none_of_these(language)])


def related_buttons(message: protocol.Answer) -> list[list[Button]]:
    """Up to three entries to read next, one per row, under an answer."""
    return [[faq_button(option.entry, "➡️ " + option.question)] for option in message.related[:3]]


def clarify(language: str, message: protocol.Clarify) -> Outgoing:
    """Which subject a question means: one button per subject, named in the user's language."""
    rows = []
    for option in message.options[:4]:
        subject = f"subject_{option.subject}"
        rows.append([faq_button(option.entry, _title(language, subject) if subject in TEXTS else option.question)])
    return Outgoing(say(language, "clarify"), [*rows, none_of_these(language)])


def _text(language: str, key: str, fallback: str) -> str:
    return gettext(language, TEXTS[key]) if key in TEXTS else fallback


def render_case_status(language: str, status: protocol.CaseStatus) -> str:
    """An application's status from the case API, in the user's language, with CLDR dates."""

    def day(value: str | None) -> str | None:
        try:
            return format_day(language, dt.date.fromisoformat(value)) if value else None
        except ValueError:
            return None

    def line(key: str, **args: Any) -> str:
        return escape(gettext(language, TEXTS[key])).format(**{k: escape(v) for k, v in args.items()})

    lines = [
        "<b>"
        + line("status_title", number=status.application_number)
        + "</b> · "
        + escape(_text(language, f"service_{status.service_type}", status.service_type)),
        "<b>" + line("status_line", status=_text(language, f"state_{status.status}", status.status)) + "</b>",
    ]
    for key, value in (
        ("status_submitted", status.submitted_on),
        ("status_updated", status.updated_on),
        ("status_decision", status.decision_on),
        ("status_valid_until", status.valid_until),
    ):
        if (shown := day(value)) is not None:
            lines.append(line(key, date=shown))
    if status.next_step and f"next_{status.next_step}" in TEXTS:
        lines += ["", escape(gettext(language, TEXTS[f"next_{status.next_step}"]))]
    if status.missing_documents:
        lines.append(line("status_missing"))
        lines += ["• " + escape(_text(language, f"document_{d}", d)) for d in status.missing_documents]
    if status.office:
        lines += ["", line("status_office", office=status.office)]
    return "\n".join(lines)


def render_answer(language: str, message: protocol.Answer) -> str:
    lines = [f"<b>{escape(message.question)}</b>", "", escape(message.text)]
    source = escape(shorten(message.source or "", SOURCE_MAX_CHARS))
    url = message.source_url
    if source:
        if url and url.startswith(("http://", "https://")):
            source = f'<a href="{html.escape(url, quote=True)}">{source}</a>'
        lines += ["", "📖 <i>" + escape(gettext(language, TEXTS["answer_source"])).format(source=source) + "</i>"]
    if message.reviewed_on:
        try:
            day = format_day(language, dt.date.fromisoformat(message.reviewed_on))
            lines.append("<i>" + escape(gettext(language, TEXTS["answer_reviewed"]).format(date=day)) + "</i>")
        except ValueError:
            pass
    if message.review_state == "needs_review":
        lines += ["", "⚠️ " + say(language, "answer_needs_review")]
    return "\n".join(lines)


@dataclass
class _Reply:
    """The engine's messages of one reply, rendered in turn: each kind's renderer adds to it."""

    language: str
    messages: list[Outgoing] = field(default_factory=list)
    new_language: str | None = None
    handoff: str | None = None
    not_understood: bool = False
    outcome: str | None = None
    entry: str | None = None

    def shows(self, outcome: str) -> None:
        self.outcome = stronger(self.outcome, outcome)


def _say(reply: _Reply, message: protocol.Say, buttons: list[list[Button]]) -> None:
    reply.not_understood = reply.not_understood or message.key in NOT_UNDERSTOOD_KEYS
    reply.shows(SAY_OUTCOMES.get(message.key, "other"))
    if message.offer_human:
        buttons = [*buttons, [Button(_title(reply.language, "talk_to_person"), HUMAN_PAYLOAD)]]
    reply.messages.append(Outgoing(say(reply.language, message.key, **message.args), buttons))


def _answer(reply: _Reply, message: protocol.Answer, buttons: list[list[Button]]) -> None:
    rows = (buttons or rating_buttons(message.entry)) + related_buttons(message)
    reply.shows("answered")
    reply.entry = reply.entry or message.entry
    reply.messages.append(Outgoing(render_answer(reply.language, message), rows, None if buttons else message.entry))


def _clarify(reply: _Reply, message: protocol.Clarify, buttons: list[list[Button]]) -> None:
    reply.shows("clarify")
    reply.messages.append(clarify(reply.language, message))


def _did_you_mean(reply: _Reply, message: protocol.DidYouMean, buttons: list[list[Button]]) -> None:
    reply.not_understood = True
    reply.shows("did_you_mean")
    reply.messages.append(did_you_mean(reply.language, message))


def _case_status(reply: _Reply, message: protocol.CaseStatus, buttons: list[list[Button]]) -> None:
    if message.subscribe is not None:
        notify = Button("🔔 " + _title(reply.language, "status_notify_me"), protocol.Subscribe(message.subscribe).data)
        buttons = [*buttons, [notify]]
    reply.shows("status_found")
    reply.messages.append(Outgoing(render_case_status(reply.language, message), buttons))


def _set_language(reply: _Reply, message: protocol.SetLanguage, buttons: list[list[Button]]) -> None:
    if message.language in LANGUAGE_NAMES:
        reply.new_language = reply.language = message.language
        reply.messages.append(Outgoing(say(reply.language, "language_set")))


def _language_menu(reply: _Reply, message: protocol.LanguageMenu, buttons: list[list[Button]]) -> None:
    reply.messages.append(language_menu(reply.language))


def _handoff(reply: _Reply, message: protocol.Handoff, buttons: list[list[Button]]) -> None:
    if message.reason in HANDOFF_REASONS:
        reply.handoff = message.reason
        reply.shows("handed_over")


# A kind the gateway does not show (the retrieval responses' entry references) has no renderer.
RENDERERS: dict[type, Callable[[_Reply, Any, list[list[Button]]], None]] = {
    protocol.Say: _say,
    protocol.Answer: _answer,
    protocol.Clarify: _clarify,
    protocol.DidYouMean: _did_you_mean,
    protocol.CaseStatus: _case_status,
    protocol.SetLanguage: _set_language,
    protocol.LanguageMenu: _language_menu,
    protocol.Handoff: _handoff,
}


def render(language: str, engine_messages: list[dict[str, Any]]) -> Rendered:
    """Turns the engine's reply list into Telegram messages in `language` (or the language it switches to)."""
    reply = _Reply(language)
    for item in engine_messages:
        buttons = [
            [Button(str(b.get("title", ""))[:64] or "…", callback_data(str(b.get("payload", ""))))]
            for b in item.get("buttons") or []
            if b.get("payload")
        ]
        if "custom" in item:
            try:
                message = protocol.decode(item["custom"])
            except protocol.Malformed as error:
                log.warning("an engine message that is none of ours was left out: %s", error)
                continue
            renderer = RENDERERS.get(type(message))
            if renderer is not None:
                renderer(reply, message, buttons)
        elif item.get("text"):
            reply.shows("other")
            reply.messages.append(Outgoing(escape(item["text"]), buttons))
    nothing = not reply.messages and reply.handoff is None
    return Rendered(
        split_all(reply.messages),
        reply.new_language,
        reply.handoff,
        reply.not_understood or nothing,
        "not_understood" if nothing else reply.outcome or "other",
        reply.entry if reply.outcome == "answered" else None,
    )


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
