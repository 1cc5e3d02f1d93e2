"""One message that asks two things ("how do I get a work permit and how long does it take?"): where it may
be cut, and whether the cut reads better than the whole.

Cuts are proposed where a second question usually starts: after a question mark or the end of a sentence,
and at "and"/"və"/"и" (and their kin) followed by a question word. Whether to cut is the model's call: both
halves are parsed, and the message is split only when the first half is a knowledge-base question answered
on its own and the second reads as a question too (on its own, or as a follow-up of the first); the engine
then handles the halves as two messages in order, so the second is read in the context of the first's
answer. Standard library only: this runs inside the engine's own environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.folding import fold

_QUESTION_WORDS = {
    "en": r"how|what|where|when|who|which|why|whom|whose|can|could|do|does|did|is|are|am|should|must|will|would|"
    r"may|might|if|i|my|the|there",
    "ru": r"как|что|где|когда|кто|какие|какой|какая|каких|сколько|можно|нужно|надо|если|могу|может|ли|нужен|"
    r"нужна|нужны|куда|почему|зачем|есть|у|мне|я|мой|моя|мои",
    # Folded Azerbaijani (engine/folding.py): question words come late in a clause, so any clause of two
    # words after "və" is proposed; the model decides.
    "az": r"\w+",
}
_JOINERS = {
    "en": r"and also|and|also|plus|as well as",
    "ru": r"а также|а еще|и еще|также|и|а|еще",
    "az": r"ve hem de|hem de|hemcinin|bir de|ve|hem",
}
_CUT = re.compile(
    r"[,\s]+\b(?:" + "|".join(f"(?:{j})" for j in _JOINERS.values()) + r")\b\s+"  # "and", "və", "и"…
    r"|(?:[?!]+|\.(?=\s)|;|\n|,(?=\s))\s*",  # the end of a sentence or a clause
    re.IGNORECASE,
)
# After a bare comma, a second question starts with a question word, or (Azerbaijani) is a clause of its own.
_CLAUSE = re.compile(r"^(?:" + _QUESTION_WORDS["en"] + "|" + _QUESTION_WORDS["ru"] + r"|\w+\s+(?:de|da)\b)", re.I)
_WORD = re.compile(r"\w+")
_STARTS_QUESTION = re.compile(r"^(?:" + "|".join(_QUESTION_WORDS.values()) + r")\b", re.IGNORECASE)
MIN_WORDS = 2
MAX_CUTS = 3  # each cut costs two parses
SECOND_HALF = "second_half"  # the second question's message metadata: actions read it (actions/context.py)


def cuts(text: str) -> list[tuple[str, str]]:
    """Every (first, second) the message may be cut into, each half with at least two words."""
    found = []
    folded = fold(text)  # one character for one: the joiners are matched as typed with or without ə, ş…
    for match in _CUT.finditer(folded if len(folded) == len(text) else text):
        first, second = text[: match.start()].strip(), text[match.end() :].strip()
        if len(_WORD.findall(first)) < MIN_WORDS or len(_WORD.findall(second)) < MIN_WORDS:
            continue
        joined_by_word = bool(match.group().strip(" ,?!.;\n"))
        if joined_by_word and not _STARTS_QUESTION.match(fold(second)):
            continue
        if match.group().strip() == "," and not _CLAUSE.match(fold(second)):
            continue
        if match.group().strip().startswith(("?", "!")):
            first = text[: match.end()].strip()  # the first question keeps its question mark
        found.append((first, second))
    return found[:MAX_CUTS]


@dataclass(frozen=True)
class SplitRule:
    """When a cut is taken. Chosen on the development set's two-question messages and single questions
    (`python -m benchmarks.dialogues --offline`), never on the held-out set."""

    # Chosen on the development set when follow-up questions were first trained (0.4 / 0.3 / 0.8 before): both
    # parts of two-question messages answered 0.76 -> 0.82, single messages split 37 -> 33 of 1294,
    # knowledge-base questions answered right 442 -> 439 of 521. With the model of today: both parts 0.77 /
    # 0.76 / 0.84 (az / ru / en), 24 of 1294 single messages split.
    first_confidence: float = 0.5  # the first half's top entry, alone
    second_faq: float = 0.5  # the second half's knowledge-base share of the intents
    # The whole message must not be clearly one entry: a long question with "and" in it is often one thing.
    whole_confidence: float = 0.9


SPLIT_RULE = SplitRule()
# What a question may be read as: the knowledge base, or a reading the conversation may turn into a question
# ("and if they say no?" reads as "no", "how much?" as out of scope). The second half of a message, the actions'
# reading in context (knowledge/conversation.py) and the engine's second parse (engine/context.py) all use it.
QUESTION_INTENTS = frozenset({"faq", "nlu_fallback", "out_of_scope", "affirm", "deny"})


@dataclass(frozen=True)
class Parsed:
    """What the split decision reads of a parse."""

    intent: str
    faq_share: float  # the knowledge base's probability among the intents
    entries: tuple[tuple[str, float], ...]  # the knowledge base's entries, best first
    confidence: float = 0.0  # the intent's

    @classmethod
    def of(cls, parse: Mapping[str, Any]) -> Parsed:
        """From Rasa's parse of a message."""
        selector = (parse.get("response_selector") or {}).get("faq") or {}
        entries = []
        for item in selector.get("ranking") or []:
            key = str(item.get("intent_response_key") or "").partition("/")[2]
            if key:
                entries.append((key, float(item.get("confidence") or 0.0)))
        share = next(
            (float(i.get("confidence") or 0.0) for i in parse.get("intent_ranking") or [] if i.get("name") == "faq"),
            0.0,
        )
        entries.sort(key=lambda item: item[1], reverse=True)
        intent = parse.get("intent") or {}
        return cls(str(intent.get("name") or ""), share, tuple(entries), float(intent.get("confidence") or 0.0))

    @property
    def top(self) -> tuple[str, float]:
        return self.entries[0] if self.entries else ("", 0.0)


def worth_splitting(whole: Parsed, first: Parsed, second: Parsed, rule: SplitRule = SPLIT_RULE) -> bool:
    """Whether the two halves read as two questions where the whole does not read as one."""
    if first.intent != "faq" or first.top[1] < rule.first_confidence:
        return False
    if whole.intent == "faq" and whole.top[1] >= rule.whole_confidence:
        return False
    if second.intent not in QUESTION_INTENTS or second.faq_share < rule.second_faq:
        return False
    # The same entry twice is one question said twice ("I lost my passport. What do I do?").
    return not (second.top[0] == first.top[0] and second.top[1] >= 0.5)
