"""Reading a message in the light of the conversation: follow-ups, questions that fit several entries, and
the questions people need next.

Every entry says which subjects a conversation can be about that it serves (`subjects`, from the topics) and
which aspect of them it answers (`aspects`: cost, time, documents…). A follow-up such as "and how much is
it?" names an aspect but no subject; "what about the permanent one?" names a subject but no aspect. The
classifier's ranking of the message alone already says which: its probability spreads over the cost entries
of every subject, or over the entries of one subject. Weighting each entry by what it shares with the entry
answered last (its subjects and its aspects) lets the message fill in what it leaves out, while a question
that names both stays with its own entry: the context changes the ranking, it does not replace it.

Pure functions over the classifier's scores and the entries' labels, so the rule can be tuned offline on the
development dialogues (benchmarks/dialogues.py) and run unchanged in the action server.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from engine.questions import QUESTION_INTENTS

if TYPE_CHECKING:
    from knowledge.store import KnowledgeBase

# The order in which people usually need a subject's aspects: the default "related questions" follow it.
NEXT_ASPECTS = (
    "overview",
    "cost",
    "time",
    "documents",
    "eligibility",
    "validity",
    "extension",
    "online",
    "where",
    "family",
    "rights",
    "appeal",
    "rules",
    "loss",
    "fines",
)


@dataclass(frozen=True)
class Labels:
    """What the conversation logic knows of an entry."""

    key: str
    topic: str
    subjects: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    related: tuple[str, ...] = ()  # staff's choice of related questions; empty: computed from the subject

    @property
    def main_subjects(self) -> tuple[str, ...]:
        return self.subjects or (self.topic,)


@dataclass(frozen=True)
class DirectRule:
    """When the top entry is answered at once rather than offered among choices ("did you mean").

    With dozens of entries the selector's probabilities spread out: an answer is given when the top entry is likely
    in absolute terms, or clearly ahead of the runner-up. benchmarks.nlu_accuracy reports how often FAQ
    questions are answered directly and how often rightly, and grids these numbers on the development set."""

    confident: float = 0.5
    plausible: float = 0.3
    margin: float = 2.5

    def answers(self, confidence: float, runner_up: float) -> bool:
        return confidence >= self.confident or (confidence >= self.plausible and confidence >= self.margin * runner_up)


DIRECT_RULE = DirectRule()


def answers_directly(confidence: float, runner_up: float) -> bool:
    """Whether the top entry is answered at once, by the rule in use."""
    return DIRECT_RULE.answers(confidence, runner_up)


@dataclass(frozen=True)
class ContextRule:
    """How much the entry answered last weighs on the reading of the next message. Chosen on the
    development dialogues (`python -m benchmarks.dialogues --tune`), never on the held-out ones."""

    # Chosen on the development dialogues with `--tune` (follow-ups right, less half of those answered wrong,
    # and knowledge-base questions after an unrelated answer), with the engine's parse after the subject marker:
    # follow-ups 0.44 read alone -> 0.76, knowledge-base questions after an unrelated answer 0.85 (0.83 alone).
    subject_boost: float = 1.0  # an entry about the last answer's subject: weight × (1 + this)
    aspect_boost: float = 0.5  # … that shares an aspect with it
    repeat: float = 0.6  # the last answer itself: a follow-up usually asks for something else
    message_aspect: float = 4.0  # an entry of the aspect the message asks about: × (1 + this × its share)
    floor: float = 0.0  # added to every entry's probability: lets labels lift an entry the message barely names
    # The message's own probabilities are raised to this power before weighting: below 1 it flattens the
    # classifier's preference among entries of one aspect ("how long does it take?" leans to whichever
    # subject's time entry its training words resemble), so the conversation's subject decides.
    sharpness: float = 1.0
    # With the engine's parse of the message after the conversation's subject marker (engine/context.py): the
    # share of the entries' probabilities taken from the parse of the message alone.
    mix: float = 0.5
    # A message the classifier did not read as a knowledge-base question (out of scope, "no", not understood)
    # is answered in context only when the weighted ranking is this sure of its top entry.
    # dev: 0.6 -> 0.4 follow-ups right +1.4 / 0 / +3 points, "no"/out of scope answered 12 -> 18 of 465; and
    # "and how much is it?" (out of scope alone) after a work permit's answer is answered (0.43).
    other_intent_at: float = 0.4
    # … and only when the message alone gave the knowledge base at least this probability.
    other_intent_faq_floor: float = 0.05

    # In a conversation the weighted ranking is answered on a rule of its own: the labels have already
    # narrowed it to the entries that fit, so a lead that alone would be a "did you mean" is an answer.
    confident: float = 0.3
    plausible: float = 0.15
    margin: float = 1.3

    def answers(self, confidence: float, runner_up: float) -> bool:
        return DirectRule(self.confident, self.plausible, self.margin).answers(confidence, runner_up)

    def for_second_half(self) -> ContextRule:
        """The second question of two in one message: the first's answer may be what it asks for again, in
        which case it is not repeated (the caller's check), but it must not be pushed aside either."""
        return replace(self, repeat=1.0)


@dataclass(frozen=True)
class ClarifyRule:
    """When a message fits several entries of different subjects equally ("how long does it take?"): one
    aspect holds most of the probability, no subject does. Chosen on the development set: clarifying
    questions with a right option for 42% of such first messages (71% counting direct answers that are right),
    knowledge-base questions answered right unchanged, 9 of 163 out-of-scope messages asked about."""

    aspect_share: float = 0.4
    subject_share: float = 0.5
    options: int = 4
    # "How much does it cost?" often reads as out of scope on its own: asked about only when the knowledge base
    # has at least this share of the intents.
    faq_floor: float = 0.1
    # Whether the question comes before the direct-answer rule without a conversation: it would catch more
    # ambiguous questions, but cost direct answers to single questions (dev: 429 -> 403 answered right).
    before_direct: bool = False


CONTEXT_RULE = ContextRule()
CLARIFY_RULE = ClarifyRule()


def normalised(scores: Mapping[str, float]) -> dict[str, float]:
    total = sum(max(0.0, s) for s in scores.values())
    return {k: max(0.0, s) / total for k, s in scores.items()} if total > 0 else dict(scores)


def shares(labels: Mapping[str, Labels], scores: Mapping[str, float], attribute: str) -> dict[str, float]:
    """The probability each subject (or aspect) holds: the sum over the entries that carry it."""
    totals: dict[str, float] = {}
    for key, score in scores.items():
        entry = labels.get(key)
        if entry is None:
            continue
        # An entry counts for its own subject only: the overview of all fees is not evidence of each subject.
        values = entry.main_subjects[:1] if attribute == "subjects" else entry.aspects
        for value in values:
            totals[value] = totals.get(value, 0.0) + score
    return totals


def in_context(
    scores: Mapping[str, float], labels: Mapping[str, Labels], last: str | None, rule: ContextRule = CONTEXT_RULE
) -> dict[str, float]:
    """The message's entry probabilities, weighted by what each entry shares with the entry answered last
    (`last`) and by the aspect the message asks about, normalised again. Without a last answer (or one no
    longer in the knowledge base): unchanged.

    - Subject: an entry about the last answer's main subject gets the whole boost; one that merely serves it
      among several others (the overview of all fees) a share, so general overviews do not pull every
      follow-up to themselves.
    - Aspect: the message's probability summed per aspect over all entries ("how much" spreads over every
      subject's cost entry, but the cost aspect holds most of it) lifts the entries of that aspect, so the
      last answer's subject and the message's aspect meet in one entry.
    """
    previous = labels.get(last) if last else None
    if previous is None:
        return normalised(scores)
    probabilities = normalised(scores)
    asked = shares(labels, probabilities, "aspects")
    subjects, aspects = set(previous.main_subjects), set(previous.aspects)
    weighted = {}
    for key, probability in probabilities.items():
        entry = labels.get(key)
        if entry is None:
            continue
        own = entry.main_subjects
        subject = 1.0 if own[0] in subjects else len(subjects & set(own)) / len(own)
        weight = (1.0 + rule.subject_boost * subject) * (
            1.0 + rule.message_aspect * max((asked.get(a, 0.0) for a in entry.aspects), default=0.0)
        )
        if aspects & set(entry.aspects):
            weight *= 1.0 + rule.aspect_boost
        if key == last:
            weight *= rule.repeat
        weighted[key] = (probability + rule.floor) ** rule.sharpness * weight
    return normalised(weighted)


def ranked(scores: Mapping[str, float]) -> list[tuple[str, float]]:
    return sorted(scores.items(), key=lambda item: item[1], reverse=True)


@dataclass(frozen=True)
class Clarification:
    aspect: str
    options: tuple[str, ...]  # entry keys, one per subject, the likeliest first


def clarification(
    scores: Mapping[str, float], labels: Mapping[str, Labels], rule: ClarifyRule = CLARIFY_RULE
) -> Clarification | None:
    """A clarifying question when the message asks about one aspect and leaves the subject open, else None."""
    probabilities = normalised(scores)
    aspect_shares = shares(labels, probabilities, "aspects")
    if not aspect_shares:
        return None
    aspect, share = max(aspect_shares.items(), key=lambda item: item[1])
    if share < rule.aspect_share or max(shares(labels, probabilities, "subjects").values()) >= rule.subject_share:
        return None
    options: list[str] = []
    seen: set[str] = set()
    for key, _ in ranked(probabilities):
        entry = labels.get(key)
        if entry is None or aspect not in entry.aspects or entry.main_subjects[0] in seen:
            continue
        options.append(key)
        seen.add(entry.main_subjects[0])
        if len(options) == rule.options:
            break
    return Clarification(aspect, tuple(options)) if len(options) >= 2 else None


def related(key: str, labels: Mapping[str, Labels], limit: int = 3) -> list[str]:
    """Up to `limit` entries to offer after answering `key`: staff's choice where they made one, otherwise
    the other aspects of the entry's main subject, in the order people usually need them."""
    entry = labels.get(key)
    if entry is None:
        return []
    chosen = [k for k in entry.related if k in labels and k != key]
    if chosen:
        return chosen[:limit]
    own = set(entry.aspects)
    picked: list[str] = []
    covered: set[str] = set()
    # The main subject's other aspects; an overview that is nobody's main subject borrows from the next one.
    for subject in entry.main_subjects:

        def order(other: Labels, subject: str = subject) -> tuple[int, int, str]:
            first = next((a for a in other.aspects if a not in own), None)
            position = NEXT_ASPECTS.index(first) if first in NEXT_ASPECTS else len(NEXT_ASPECTS)
            # The entries about this subject first, then those that merely serve it too (overviews of all fees).
            return (0 if other.main_subjects[0] == subject else 1, position, other.key)

        candidates = [
            other
            for other in labels.values()
            if other.key != key and other.key not in picked and subject in other.main_subjects
        ]
        for other in sorted(candidates, key=order):
            new = set(other.aspects) - own - covered
            if not new:
                continue
            picked.append(other.key)
            covered |= new
            if len(picked) == limit:
                return picked
        if picked:
            break
    return picked


def labels_of(entries: Iterable[object]) -> dict[str, Labels]:
    """Labels from EntryData-like objects (key, topic, subjects, aspects, related)."""
    return {
        e.key: Labels(  # type: ignore[attr-defined]
            e.key,  # type: ignore[attr-defined]
            e.topic,  # type: ignore[attr-defined]
            tuple(getattr(e, "subjects", ()) or ()),
            tuple(getattr(e, "aspects", ()) or ()),
            tuple(getattr(e, "related", ()) or ()),
        )
        for e in entries
    }


@dataclass
class Reading:
    """What to do with a message: answer `entry`, ask `clarify`, or neither (the caller's usual path)."""

    entry: str | None = None
    confidence: float = 0.0
    in_context: bool = False  # the answer came from reading the message with the conversation
    clarify: Clarification | None = None
    ranking: list[tuple[str, float]] = field(default_factory=list)


def read(
    intent: str,
    faq_probability: float,
    scores: Mapping[str, float],
    labels: Mapping[str, Labels],
    last: str | None,
    answers_directly: Callable[[float, float], bool] = answers_directly,
    rule: ContextRule = CONTEXT_RULE,
    clarify_rule: ClarifyRule = CLARIFY_RULE,
) -> Reading:
    """Reads a message: `intent` is the classifier's, `faq_probability` the knowledge base's share of the intent
    ranking, `scores` the entries' probabilities for the message alone, `last` the entry answered last.

    A knowledge-base question is answered when the weighted ranking passes the direct-answer rule. Another
    intent (out of scope, "no", not understood) is answered only with a conversation to read it in and a clear
    winner: "and if they say no?" after asylum, but never "no" after anything. A question that fits several
    subjects' entries of one aspect gets a clarifying question."""
    if intent not in QUESTION_INTENTS or not scores:
        return Reading()
    alone = ranked(normalised(scores))
    ranking = ranked(in_context(scores, labels, last, rule))
    top, confidence = ranking[0]
    runner_up = ranking[1][1] if len(ranking) > 1 else 0.0
    moved = last is not None and top != alone[0][0]
    asked = None
    # Not for a message not understood (words the model does not know): its ranking says nothing about aspects.
    if intent == "faq" or (intent == "out_of_scope" and faq_probability >= clarify_rule.faq_floor):
        asked = clarification(dict(ranking), labels, clarify_rule)
    # Without a conversation, a question that names an aspect and no subject is asked about even when one
    # subject's entry leads: the classifier's favourite subject is not the user's.
    if asked is not None and last is None and clarify_rule.before_direct:
        return Reading(clarify=asked, ranking=ranking)
    if intent == "faq" and (
        answers_directly(confidence, runner_up) if last is None else rule.answers(confidence, runner_up)
    ):
        return Reading(top, confidence, moved, ranking=ranking)
    if (
        intent != "faq"
        and last is not None
        and confidence >= rule.other_intent_at
        and faq_probability >= rule.other_intent_faq_floor
    ):
        return Reading(top, confidence, True, ranking=ranking)
    return Reading(clarify=asked, ranking=ranking)


class LiveLabels:
    """The live entries' labels and questions, reloaded whenever the knowledge base changes (its stamp)."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._stamp: tuple[int, int] | None = None
        self._labels: dict[str, Labels] = {}
        self._questions: dict[str, dict[str, str]] = {}

    async def _ensure(self) -> None:
        stamp = await self._kb.stamp()
        if stamp == self._stamp:
            return
        entries = await self._kb.export()
        self._labels = labels_of(entries)
        self._questions = {e.key: {lang: t.question for lang, t in e.texts.items()} for e in entries}
        self._stamp = stamp

    async def labels(self) -> dict[str, Labels]:
        await self._ensure()
        return self._labels

    async def questions(self, keys: Iterable[str], language: str) -> list[tuple[str, str]]:
        """(key, question in `language`, else English) for the keys that are live, in order."""
        await self._ensure()
        found = []
        for key in keys:
            texts = self._questions.get(key)
            if texts:
                found.append((key, texts.get(language) or texts.get("en") or key))
        return found
