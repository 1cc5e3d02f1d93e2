"""What crosses the line between our processes about a conversation: the messages the engine's actions send the
gateway, and the data of the buttons the gateway puts under them. One typed definition, one codec.

The engine never sends user-facing text of its own: it sends one of these messages (as the `custom` payload of a
Rasa response) and the gateway renders it in the user's language. Button data comes back from Telegram as a
string of at most 64 bytes, chosen by whoever pressed: it is parsed here, and anything that does not parse is
no button of ours. Standard library only: the actions and the engine's channel (Rasa's environment) read it too.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

# ------------------------------------------------------------------ the engine's messages


@dataclass(frozen=True)
class Option:
    """An entry offered with a button: its question as the button's title, its subject where the button names
    the subject instead (a clarifying question)."""

    entry: str
    question: str
    subject: str | None = None


@dataclass(frozen=True)
class Say:
    """A fixed text from the gateway's catalog (bot/texts.py) by key, with format arguments; optionally with a
    "talk to a person" button."""

    kind: ClassVar[str] = "say"
    key: str
    args: Mapping[str, Any] = field(default_factory=dict)
    offer_human: bool = False


@dataclass(frozen=True)
class Answer:
    """An entry's answer in one language; `related`: up to three entries to offer next; `subject`: what the
    conversation is about now (the engine reads the next message with it, engine/context.py)."""

    kind: ClassVar[str] = "answer"
    entry: str
    language: str = ""
    question: str = ""
    text: str = ""
    source: str | None = None
    source_url: str | None = None
    reviewed_on: str | None = None  # ISO date
    review_state: str = "published"
    subject: str | None = None
    related: tuple[Option, ...] = ()


@dataclass(frozen=True)
class DidYouMean:
    """Up to three entries the question may have meant."""

    kind: ClassVar[str] = "did_you_mean"
    options: tuple[Option, ...]


@dataclass(frozen=True)
class Clarify:
    """A question that fits several subjects' entries of one aspect ("how long does it take?"): which subject is
    meant, the likeliest first."""

    kind: ClassVar[str] = "clarify"
    aspect: str
    options: tuple[Option, ...]


@dataclass(frozen=True)
class CaseStatus:
    """An application's status as codes and ISO dates, rendered in the user's language by the gateway. The case
    API's access token is never part of it. `subscribe`: the lookup a "notify me" button would follow."""

    kind: ClassVar[str] = "case_status"
    application_number: str = ""
    service_type: str = ""
    status: str = ""
    submitted_on: str | None = None
    updated_on: str | None = None
    decision_on: str | None = None
    valid_until: str | None = None
    next_step: str | None = None
    missing_documents: tuple[str, ...] = ()
    office: str | None = None
    subscribe: int | None = None


@dataclass(frozen=True)
class Handoff:
    """Hands the chat to people; the gateway opens the ticket and its staff topic (reasons: handoff.models)."""

    kind: ClassVar[str] = "handoff"
    reason: str


@dataclass(frozen=True)
class SetLanguage:
    kind: ClassVar[str] = "set_language"
    language: str


@dataclass(frozen=True)
class LanguageMenu:
    kind: ClassVar[str] = "language_menu"


@dataclass(frozen=True)
class FaqRef:
    """The response Rasa requires for each retrieval intent (knowledge/training_data.py): only the entry's key,
    since the answer itself is read from the knowledge base at reply time. Never sent to the gateway."""

    kind: ClassVar[str] = "faq_ref"
    entry: str


Message = Say | Answer | DidYouMean | Clarify | CaseStatus | Handoff | SetLanguage | LanguageMenu | FaqRef
KINDS: dict[str, type[Message]] = {
    kind.kind: kind
    for kind in (Say, Answer, DidYouMean, Clarify, CaseStatus, Handoff, SetLanguage, LanguageMenu, FaqRef)
}
_NESTED = {"related", "options"}  # fields holding options
_TUPLES = {"related", "options", "missing_documents"}


def encode(message: Message) -> dict[str, Any]:
    """The message as the JSON object it travels as: its fields and `type` (a flag only when it is set)."""
    data: dict[str, Any] = {"type": message.kind}
    for item in dataclasses.fields(message):
        value = getattr(message, item.name)
        if value is False:
            continue
        if item.name in _NESTED:
            value = [{k: v for k, v in dataclasses.asdict(o).items() if v is not None} for o in value]
        elif item.name in _TUPLES:
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        data[item.name] = value
    return data


class Malformed(ValueError):
    """A payload that is not one of our messages: an unknown type, a required field missing or of a wrong kind."""


def decode(data: Any) -> Message:
    """The message a JSON object stands for; raises Malformed for anything else. Unknown fields are ignored, and
    so are the items of a list that are not what the list holds."""
    if not isinstance(data, Mapping) or data.get("type") not in KINDS:
        raise Malformed(f"not a message of ours: {type(data).__name__}")
    kind = KINDS[data["type"]]
    values: dict[str, Any] = {}
    for item in dataclasses.fields(kind):
        if item.name not in data or data[item.name] is None:
            continue
        value = data[item.name]
        if item.name in _NESTED:
            value = tuple(_option(o) for o in _listed(value, item.name) if isinstance(o, Mapping) and o.get("entry"))
        elif item.name in _TUPLES:
            value = tuple(str(v) for v in _listed(value, item.name))
        elif item.name == "args":
            if not isinstance(value, Mapping):
                value = {}
        elif item.name == "subscribe":
            if isinstance(value, bool) or not isinstance(value, int):
                raise Malformed("subscribe is not a lookup id")
        elif item.name == "offer_human":
            value = bool(value)
        else:
            value = str(value)
        values[item.name] = value
    try:
        return kind(**values)
    except TypeError as error:  # a required field is missing
        raise Malformed(f"{data['type']}: {error}") from None


def _listed(value: Any, name: str) -> list[Any]:
    """A list field's items; one that is no list is left out rather than losing the message (an answer is
    still worth showing without its related questions)."""
    return list(value) if isinstance(value, list | tuple) else []


def _option(data: Mapping[str, Any]) -> Option:
    subject = data.get("subject")
    return Option(str(data["entry"]), str(data.get("question") or ""), None if subject is None else str(subject))


# ------------------------------------------------------------------ button data

MAX_BUTTON_BYTES = 64  # Telegram's limit on callback data
B = TypeVar("B", bound="ButtonData")


class ButtonData:
    """A kind of button: `pattern` tells its data (the gateway routes presses with it), `parse` reads it."""

    pattern: ClassVar[re.Pattern[str]]

    @property
    def data(self) -> str:
        raise NotImplementedError

    @classmethod
    def matches(cls, data: object) -> bool:
        return isinstance(data, str) and cls.pattern.fullmatch(data) is not None

    @classmethod
    def parse(cls: type[B], data: str | None) -> B | None:
        found = cls.pattern.fullmatch(data or "")
        return cls._of(found.groups()) if found else None

    @classmethod
    def _of(cls: type[B], groups: tuple[str, ...]) -> B:
        raise NotImplementedError


@dataclass(frozen=True)
class RateAnswer(ButtonData):
    """👍/👎 under an answer."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"rate:([+-]):(.+)", re.DOTALL)
    entry: str
    up: bool

    @property
    def data(self) -> str:
        return f"rate:{'+' if self.up else '-'}:{self.entry}"

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> RateAnswer:
        return cls(groups[1], groups[0] == "+")


@dataclass(frozen=True)
class ChooseLanguage(ButtonData):
    pattern: ClassVar[re.Pattern[str]] = re.compile(r"lang:([a-z]{2})")
    language: str

    @property
    def data(self) -> str:
        return f"lang:{self.language}"

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> ChooseLanguage:
        return cls(groups[0])


@dataclass(frozen=True)
class Subscribe(ButtonData):
    """ "Notify me" under an application's status: the lookup to follow."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"sub:(\d{1,18})")
    lookup: int

    @property
    def data(self) -> str:
        return f"sub:{self.lookup}"

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> Subscribe:
        return cls(int(groups[0]))


@dataclass(frozen=True)
class RateHandoff(ButtonData):
    """👍/👎 under "the conversation with our staff has ended"."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"hr:([+-]):(\d{1,18})")
    ticket: int
    up: bool

    @property
    def data(self) -> str:
        return f"hr:{'+' if self.up else '-'}:{self.ticket}"

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> RateHandoff:
        return cls(int(groups[1]), groups[0] == "+")


TICKET_ACTIONS = ("take", "esc", "done")


@dataclass(frozen=True)
class TicketAction(ButtonData):
    """Take, escalate or resolve, on a ticket's header in its staff topic."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"tk:(take|esc|done):(\d{1,18})")
    action: str
    ticket: int

    @property
    def data(self) -> str:
        return f"tk:{self.action}:{self.ticket}"

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> TicketAction:
        return cls(groups[0], int(groups[1]))


@dataclass(frozen=True)
class SayToEngine(ButtonData):
    """A button whose press the engine reads as if the user had typed its payload: `/faq{"entry":"…"}` picks an
    entry, `/human_handoff` asks for a person."""

    pattern: ClassVar[re.Pattern[str]] = re.compile(r"(/.{1,63})", re.DOTALL)
    payload: str

    @property
    def data(self) -> str:
        return self.payload

    @classmethod
    def _of(cls, groups: tuple[str, ...]) -> SayToEngine:
        return cls(groups[0])

    @classmethod
    def pick(cls, entry: str) -> SayToEngine:
        return cls(f'/faq{{"entry":"{entry}"}}')


HUMAN_HANDOFF = SayToEngine("/human_handoff")
ONE_TIME: tuple[type[ButtonData], ...] = (RateAnswer, Subscribe)  # buttons that go once pressed
