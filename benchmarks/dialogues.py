"""Conversations, not single messages: follow-ups, two questions in one message, and clarifying questions.

    python -m benchmarks.dialogues                     # held-out dialogues through the real stack
    python -m benchmarks.dialogues --split dev         # the development dialogues, the same way
    python -m benchmarks.dialogues --offline --split dev [--tune]   # the model alone, in seconds: for choosing

The sets (`nlu_dev/dialogues_<lang>.yml` for choosing, `nlu_test/dialogues_<lang>.yml` for reporting, written
apart) hold dialogues of two or three turns, each turn labelled with the entry that answers it in context (a turn
that starts a subject of its own is marked `new_subject: true`);
messages that ask two things, with both entries; and first messages that fit several entries, with the
entries a clarifying question may offer.

Through the stack, every dialogue is a new Telegram user talking to the emulator → gateway → engine →
actions; the entry of each answer is read from its rating buttons. Printed per language: first turns,
follow-up turns and two-question messages answered with the right entry, clarifying questions asked with a
right option, and follow-ups handed to a person. Offline, the same sets are parsed by the trained model and
the conversation logic (knowledge/conversation.py, engine/questions.py) is replayed on the parses, which is
what the rules are tuned with; `--tune` grids them on the development set.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import random
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from actions.faq import answers_directly
from benchmarks.heldout import DEV_DIR, HELDOUT_DIR, development
from benchmarks.metrics import write_report
from core.settings import LANGUAGES, PROJECT_ROOT, Settings
from engine.context import marked, plainly_not_a_question, with_context
from engine.questions import SPLIT_RULE, Parsed, SplitRule, cuts, worth_splitting
from knowledge.conversation import CLARIFY_RULE, CONTEXT_RULE, ClarifyRule, ContextRule, Labels, read

SEED = PROJECT_ROOT / "knowledge" / "seed"
DIRECTORIES = {"dev": DEV_DIR, "heldout": HELDOUT_DIR}


@dataclass(frozen=True)
class Dialogue:
    language: str
    name: str
    turns: tuple[tuple[str, str], ...]  # (text, entry)
    new_subject: frozenset[int] = frozenset()  # later turns that start a subject of their own (by the writer)


@dataclass(frozen=True)
class TwoQuestions:
    language: str
    text: str
    entries: tuple[str, str]


@dataclass(frozen=True)
class Ambiguous:
    language: str
    text: str
    options: tuple[str, ...]


@dataclass
class Sets:
    dialogues: list[Dialogue] = field(default_factory=list)
    two_questions: list[TwoQuestions] = field(default_factory=list)
    ambiguous: list[Ambiguous] = field(default_factory=list)


def seed_labels() -> dict[str, Labels]:
    """The seed entries' labels, read from the files themselves (so the benchmark also runs against a checkout
    whose schema predates them)."""
    labels = {}
    for path in sorted(SEED.glob("*.yml")):
        for item in yaml.safe_load(path.read_text(encoding="utf-8")) or []:
            labels[item["key"]] = Labels(
                item["key"],
                item["topic"],
                tuple(item.get("subjects") or ()),
                tuple(item.get("aspects") or ()),
                tuple(item.get("related") or ()),
            )
    return labels


def read_sets(split: str, languages: tuple[str, ...] = LANGUAGES) -> Sets:
    sets = Sets()
    for lang in languages:
        data = yaml.safe_load((DIRECTORIES[split] / f"dialogues_{lang}.yml").read_text(encoding="utf-8")) or {}
        for item in data.get("dialogues") or []:
            turns = tuple((str(t["text"]), str(t["entry"])) for t in item["turns"])
            new = frozenset(i for i, t in enumerate(item["turns"]) if t.get("new_subject"))
            sets.dialogues.append(Dialogue(lang, str(item.get("name", "")), turns, new))
        for item in data.get("two_questions") or []:
            first, second = item["entries"]
            sets.two_questions.append(TwoQuestions(lang, str(item["text"]), (str(first), str(second))))
        for item in data.get("clarify") or []:
            sets.ambiguous.append(Ambiguous(lang, str(item["text"]), tuple(str(o) for o in item["options"])))
    return sets


# ------------------------------------------------------------------ counting


@dataclass
class Tally:
    first: list[bool] = field(default_factory=list)
    follow_up: list[bool] = field(default_factory=list)
    follow_up_wrong: int = 0  # follow-ups answered with another entry (worse than a "did you mean")
    new_subject: list[bool] = field(default_factory=list)  # later turns that start a subject of their own
    handed_over: int = 0  # follow-up turns after which the chat went to a person
    both: list[bool] = field(default_factory=list)  # both parts of a two-question message answered
    first_part: list[bool] = field(default_factory=list)
    clarified: list[bool] = field(default_factory=list)  # a clarifying question with a right option
    clarify_answered_right: list[bool] = field(default_factory=list)  # or a direct answer that is an option

    def count(self, dialogue: Dialogue, turn: int, answered: list[str]) -> None:
        """A dialogue's turn, answered with these entries."""
        right = dialogue.turns[turn][1] in answered
        if turn == 0:
            self.first.append(right)
        elif turn in dialogue.new_subject:
            self.new_subject.append(right)
        else:
            self.follow_up.append(right)
            self.follow_up_wrong += bool(answered) and not right

    def summary(self) -> dict[str, Any]:
        def share(values: list[bool]) -> float | None:
            return round(sum(values) / len(values), 3) if values else None

        return {
            "first_turns": share(self.first),
            "follow_ups": share(self.follow_up),
            "new_subject_turns": share(self.new_subject),
            "follow_up_count": len(self.follow_up),
            "follow_ups_wrong": self.follow_up_wrong,
            "follow_ups_handed_over": self.handed_over,
            "two_questions_both": share(self.both),
            "two_questions_first": share(self.first_part),
            "clarify_asked": share(self.clarified),
            "clarify_asked_or_option_answered": share(
                [a or b for a, b in zip(self.clarified, self.clarify_answered_right, strict=True)]
            ),
        }


# ------------------------------------------------------------------ offline: the model's parses, replayed


def parsed_from(prediction: Mapping[str, Any]) -> Parsed:
    """benchmarks/rasa_predict.py's output as the split decision reads it."""
    scores = prediction.get("faq_scores") or {}
    entries = tuple(sorted(((str(k), float(v or 0.0)) for k, v in scores.items()), key=lambda kv: -kv[1]))
    intent = str(prediction.get("intent") or "")
    scores_ = prediction.get("intent_scores") or {}
    return Parsed(intent, float(scores_.get("faq") or 0.0), entries, float(scores_.get(intent) or 0.0))


@dataclass
class Replay:
    """The conversation logic replayed on parses: what the action server and the engine's channel decide."""

    parses: Mapping[str, Parsed]
    labels: Mapping[str, Labels]
    context: ContextRule = CONTEXT_RULE
    clarify: ClarifyRule = CLARIFY_RULE
    split: SplitRule = SPLIT_RULE
    direct: Callable[[float, float], bool] = answers_directly
    marked: bool = True  # read follow-ups with the engine's parse after the subject marker

    def answer(self, text: str, last: str | None, *, second_half: bool = False) -> tuple[str | None, str]:
        """(entry answered or None, what happened: answer / clarify / not_understood / other)."""
        parsed = self.parses[text]
        rule = replace(self.context, repeat=1.0) if second_half else self.context
        previous = self.labels.get(last) if last else None
        # The engine's parse with the last answer's subject marker (engine/channel.py), where it was parsed.
        in_context = (
            self.parses.get(marked(previous.main_subjects[0], text))
            if previous and self.marked and not plainly_not_a_question(parsed)
            else None
        )
        if in_context is not None:
            parsed = with_context(parsed, in_context, rule.mix)
        reading = read(
            parsed.intent, parsed.faq_share, dict(parsed.entries), self.labels, last, self.direct, rule, self.clarify
        )
        if reading.entry is not None:
            if second_half and reading.entry == last:
                return None, "same"
            return reading.entry, "answer"
        if reading.clarify is not None and not second_half:
            return None, "clarify"
        return None, "not_understood" if parsed.intent in ("faq", "nlu_fallback") else "other"

    def message(self, text: str, last: str | None) -> list[tuple[str | None, str]]:
        """One user message: split in two when the split rule says so, each half answered in turn."""
        whole = self.parses[text]
        for first, second in cuts(text):
            halves = self.parses.get(first), self.parses.get(second)
            if halves[0] and halves[1] and worth_splitting(whole, halves[0], halves[1], self.split):
                one = self.answer(first, last)
                return [one, self.answer(second, one[0] or last, second_half=True)]
        return [self.answer(text, last)]


def texts_needed(sets: Sets, singles: list[str], labels: Mapping[str, Labels]) -> list[str]:
    """Every text the replay may parse: the messages, their halves, and the messages of conversations (and
    their halves) after each subject's marker, as the engine parses a message that follows an answer."""
    texts: list[str] = []
    for dialogue in sets.dialogues:
        texts += [t for t, _ in dialogue.turns]
    texts += [q.text for q in sets.two_questions]
    for text in list(texts):
        for first, second in cuts(text):
            texts += [first, second]
    subjects = sorted({label.main_subjects[0] for label in labels.values()})
    in_context = [marked(subject, text) for text in texts for subject in subjects]
    alone = [a.text for a in sets.ambiguous] + singles
    for text in list(alone):
        for first, second in cuts(text):
            alone += [first, second]
    return list(dict.fromkeys(texts + alone + in_context))


def unrelated_answers(keys: list[str], examples: list[Any], seed: int = 3) -> list[str]:
    """For each example, a random other entry answered before it (the single messages' guard rail)."""
    rng = random.Random(seed)
    return [rng.choice([k for k in keys if k != example.entry]) for example in examples]


def replay(sets: Sets, engine: Replay, languages: tuple[str, ...]) -> dict[str, Tally]:
    tallies = {lang: Tally() for lang in languages}
    for dialogue in sets.dialogues:
        tally, last, failed_before = tallies[dialogue.language], None, False
        for i, (text, _) in enumerate(dialogue.turns):
            outcomes = engine.message(text, last)
            answered = [e for e, _ in outcomes if e]
            tally.count(dialogue, i, answered)
            failed = not answered and any(kind == "not_understood" for _, kind in outcomes)
            if failed and failed_before:
                if i > 0:
                    tally.handed_over += 1
                break  # people have the chat now
            failed_before = failed
            last = answered[-1] if answered else last
    for pair in sets.two_questions:
        answered = [e for e, _ in engine.message(pair.text, None) if e]
        tallies[pair.language].both.append(all(e in answered for e in pair.entries))
        tallies[pair.language].first_part.append(pair.entries[0] in answered)
    for item in sets.ambiguous:
        parsed = engine.parses[item.text]
        reading = read(
            parsed.intent, parsed.faq_share, dict(parsed.entries), engine.labels, None, engine.direct,
            engine.context, engine.clarify,
        )  # fmt: skip
        asked = reading.clarify is not None and bool(set(reading.clarify.options) & set(item.options))
        tallies[item.language].clarified.append(asked)
        tallies[item.language].clarify_answered_right.append(reading.entry in item.options)
    return tallies


def single_message_sets(singles: list[Any]) -> tuple[list[Any], list[Any]]:
    """(knowledge-base questions, other messages that must not become answers) of the development set."""
    faq = [e for e in singles if e.intent == "faq"]
    others = [e for e in singles if e.intent in ("out_of_scope", "affirm", "deny", "greet", "thanks", "goodbye")]
    return faq, others


def single_message_checks(engine: Replay, singles: list[Any], seed: int = 3) -> dict[str, Any]:
    """What the conversation logic must not break, on the development set's single messages: knowledge-base
    questions answered right without a conversation and after an unrelated answer, other messages (out of
    scope, "no") not turned into answers by a conversation, and messages cut in two that ask one thing."""
    keys = sorted(engine.labels)
    faq, others = single_message_sets(singles)

    def right(example: Any, last: str | None) -> bool:
        return example.entry in [e for e, _ in engine.message(example.text, last)]

    unrelated = [right(example, last) for example, last in zip(faq, unrelated_answers(keys, faq, seed), strict=True)]
    turned = sum(
        1
        for example, last in zip(others, unrelated_answers(keys, others, seed + 1), strict=True)
        if any(e for e, _ in engine.message(example.text, last))
    )
    split = [e.text for e in singles if len(engine.message(e.text, None)) > 1]
    return {
        "faq_alone": round(sum(right(e, None) for e in faq) / len(faq), 3),
        "faq_after_unrelated_answer": round(sum(unrelated) / len(unrelated), 3),
        "other_intents_answered_in_context": f"{turned}/{len(others)}",
        "single_messages_split": f"{len(split)}/{len(singles)}",
        "split_examples": split[:10],
    }


async def offline(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.nlu_accuracy import predict
    from training.trainer import fingerprint, model_for

    settings = Settings()
    model = args.model or model_for(settings, fingerprint(settings))
    if not model.exists():
        raise SystemExit(f"no model for the current data ({model.name}): run `make train` first")
    sets = read_sets(args.split, tuple(args.languages))
    singles = development(tuple(args.languages)) if args.split == "dev" else []
    labels = seed_labels()
    texts = texts_needed(sets, [e.text for e in singles], labels)
    # The single messages after an unrelated answer are parsed with that answer's subject, as the engine would.
    faq, others = single_message_sets(singles)
    for examples, seed in ((faq, 3), (others, 4)):
        for example, last in zip(examples, unrelated_answers(sorted(labels), examples, seed), strict=True):
            texts.append(marked(labels[last].main_subjects[0], example.text))
    args.work.mkdir(parents=True, exist_ok=True)
    cache = args.work / f"parses-{model.name}.json"
    parses: dict[str, Any] = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    missing = [t for t in texts if t not in parses]
    if missing:
        print(f"· parsing {len(missing)} texts with {model.name}…", flush=True)
        parses.update(zip(missing, await predict(settings, model, missing, args.work), strict=True))
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(parses, ensure_ascii=False), encoding="utf-8")
    engine = Replay({t: parsed_from(parses[t]) for t in texts}, labels)
    alone = replace(
        engine,
        marked=False,
        # Every message read alone: no weighting, and the direct-answer rule of single questions.
        context=ContextRule(0, 0, 1.0, message_aspect=0, other_intent_at=2.0, confident=0.5, plausible=0.3, margin=2.5),
        clarify=ClarifyRule(2.0),
        split=SplitRule(2.0),
    )
    report: dict[str, Any] = {
        "split": args.split,
        "mode": "offline",
        "without_context": {lang: t.summary() for lang, t in replay(sets, alone, tuple(args.languages)).items()},
        "scores": {lang: t.summary() for lang, t in replay(sets, engine, tuple(args.languages)).items()},
    }
    if singles:
        report["single_messages"] = single_message_checks(engine, singles)
    if args.tune:
        report["tuning"] = tune(sets, engine, singles, tuple(args.languages))
    return report


def tune(sets: Sets, engine: Replay, singles: list[Any], languages: tuple[str, ...]) -> list[dict[str, Any]]:
    """A grid over the context rule on the dialogues (follow-ups right, less half the wrong ones, and new
    subjects), then the single messages' guard rail (knowledge-base questions after an unrelated answer) for
    the best 20; the best 15 are returned."""
    scored = []
    grid = itertools.product(
        (1.0, 2.0, 4.0, 8.0),  # subject boost
        (0.0, 0.5),  # aspect boost
        (0.6, 1.0),  # repeat
        (0.0, 2.0, 4.0),  # the message's aspect
        (1.0, 0.7),  # sharpness
        (0.0, 0.3, 0.5),  # the parse alone's share beside the parse after the subject marker
        ((0.5, 0.3, 2.5), (0.4, 0.25, 2.0), (0.35, 0.2, 1.5), (0.3, 0.15, 1.3)),  # the direct rule in context
    )
    for subject, aspect, repeat, asked, sharpness, mix, (confident, plausible, margin) in grid:
        rule = ContextRule(
            subject,
            aspect,
            repeat,
            asked,
            sharpness=sharpness,
            mix=mix,
            confident=confident,
            plausible=plausible,
            margin=margin,
        )
        tallies = replay(sets, replace(engine, context=rule), languages)
        follow = [x for t in tallies.values() for x in t.follow_up]
        wrong = sum(t.follow_up_wrong for t in tallies.values())
        new = [x for t in tallies.values() for x in t.new_subject]
        score = (sum(follow) - wrong / 2) / len(follow) + sum(new) / max(1, len(new)) / 4
        scored.append((score, rule, sum(follow) / len(follow), wrong / len(follow), sum(new) / max(1, len(new))))
    scored.sort(key=lambda item: item[0], reverse=True)
    results = []
    for score, rule, follow_right, follow_wrong, new_right in scored[:20]:
        guard = single_message_checks(replace(engine, context=rule), singles) if singles else {}
        after_unrelated = float(guard.get("faq_after_unrelated_answer") or 0.0)
        results.append(
            {
                "score": round(score + after_unrelated, 3),
                "rule": [
                    rule.subject_boost,
                    rule.aspect_boost,
                    rule.repeat,
                    rule.message_aspect,
                    rule.sharpness,
                    rule.mix,
                ],
                "direct_in_context": [rule.confident, rule.plausible, rule.margin],
                "follow_ups": round(follow_right, 3),
                "follow_ups_wrong": round(follow_wrong, 3),
                "new_subject": round(new_right, 3),
                "faq_after_unrelated_answer": after_unrelated,
                "other_intents_answered_in_context": guard.get("other_intents_answered_in_context"),
            }
        )
    results.sort(key=lambda r: float(str(r["score"])), reverse=True)
    return results[:15]


# ------------------------------------------------------------------ through the real stack


def entry_of(message: Mapping[str, Any]) -> str | None:
    """The entry an answer is about, from its rating button (rate:+:<entry>)."""
    from telegram_emulator.driver import buttons_of

    for button in buttons_of(dict(message)):
        data = str(button.get("callback_data") or "")
        if data.startswith("rate:+:"):
            return data.removeprefix("rate:+:")
    return None


def clarify_options(message: Mapping[str, Any]) -> list[str]:
    from telegram_emulator.driver import buttons_of

    options = []
    for button in buttons_of(dict(message)):
        data = str(button.get("callback_data") or "")
        if data.startswith("/faq{"):
            with contextlib.suppress(ValueError, KeyError):
                options.append(json.loads(data.removeprefix("/faq"))["entry"])
    return options


async def through_stack(args: argparse.Namespace) -> dict[str, Any]:
    from benchmarks.load import driver_for, running_stack
    from bot.texts import TEXTS
    from core.i18n import gettext
    from telegram_emulator.driver import text_of
    from telegram_emulator.html_check import parse_html

    sets = read_sets(args.split, tuple(args.languages))
    if args.smoke:  # the same code path, a handful of conversations
        sets = Sets(sets.dialogues[:2], sets.two_questions[:1], sets.ambiguous[:1])
    markers = {  # (a checkout from before clarifying questions has no such text: nothing starts with "\0")
        kind: {parse_html(gettext(lang, TEXTS[key])).text[:30] if key in TEXTS else "\0" for lang in LANGUAGES}
        for kind, key in (("clarify", "clarify"), ("handoff", "handoff_not_understood"))
    }
    tallies = {lang: Tally() for lang in args.languages}
    users = itertools.count(7_000_001)

    async def say(driver: Any, user: int, text: str, language: str) -> list[dict[str, Any]]:
        sent = await driver.send_text(user, text, language_code=language)
        replies = await driver.wait_messages(user, 1, after_id=sent["message"]["message_id"], timeout=60)
        with contextlib.suppress(Exception):  # a second answer, the handover notice…
            while more := await driver.wait_messages(user, 1, timeout=args.settle):
                replies += more
        return replies

    def starts(message: Mapping[str, Any], kind: str) -> bool:
        return text_of(dict(message)).startswith(tuple(markers[kind]))

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="dialogues-") as folder:
        async with running_stack(Path(folder)) as (stack, _), driver_for(stack.settings) as driver:
            semaphore = asyncio.Semaphore(args.concurrency)

            async def dialogue(item: Dialogue) -> None:
                async with semaphore:
                    user, tally = next(users), tallies[item.language]
                    for i, (text, _) in enumerate(item.turns):
                        replies = await say(driver, user, text, item.language)
                        tally.count(item, i, [e for e in map(entry_of, replies) if e])
                        if any(starts(r, "handoff") for r in replies):
                            tally.handed_over += i > 0
                            return

            async def two(item: TwoQuestions) -> None:
                async with semaphore:
                    answered = [e for e in map(entry_of, await say(driver, next(users), item.text, item.language)) if e]
                    tallies[item.language].both.append(all(e in answered for e in item.entries))
                    tallies[item.language].first_part.append(item.entries[0] in answered)

            async def ambiguous(item: Ambiguous) -> None:
                async with semaphore:
                    replies = await say(driver, next(users), item.text, item.language)
                    asked = [r for r in replies if starts(r, "clarify")]
                    options = [o for r in asked for o in clarify_options(r)]
                    tallies[item.language].clarified.append(bool(set(options) & set(item.options)))
                    answered = [e for e in map(entry_of, replies) if e]
                    tallies[item.language].clarify_answered_right.append(bool(set(answered) & set(item.options)))

            await asyncio.gather(
                *map(dialogue, sets.dialogues), *map(two, sets.two_questions), *map(ambiguous, sets.ambiguous)
            )
    return {
        "split": args.split,
        "mode": "stack",
        "seconds": round(time.monotonic() - started, 1),
        "sizes": {
            lang: {
                "dialogues": sum(d.language == lang for d in sets.dialogues),
                "two_questions": sum(q.language == lang for q in sets.two_questions),
                "clarify": sum(a.language == lang for a in sets.ambiguous),
            }
            for lang in args.languages
        },
        "scores": {lang: t.summary() for lang, t in tallies.items()},
    }


def print_report(report: dict[str, Any]) -> None:
    columns = (
        ("first_turns", "first"),
        ("follow_ups", "follow-up"),
        ("new_subject_turns", "new subj."),
        ("two_questions_both", "2-in-1 both"),
        ("clarify_asked", "clarify"),
        ("follow_ups_wrong", "f-u wrong"),
        ("follow_ups_handed_over", "to people"),
    )

    def table(title: str, scores: Mapping[str, Mapping[str, Any]]) -> None:
        print(f"\n{title}")
        print("lang  " + "  ".join(f"{name:>11}" for _, name in columns))
        for lang, row in scores.items():
            print(f"{lang:<5} " + "  ".join(f"{'-' if row[key] is None else row[key]!s:>11}" for key, _ in columns))

    table(f"{report['split']} dialogues ({report['mode']}): share answered with the right entry", report["scores"])
    if "without_context" in report:
        table("the same, reading every message alone", report["without_context"])
    if "single_messages" in report:
        print("\nsingle messages:", json.dumps(report["single_messages"], ensure_ascii=False, indent=1))
    for row in report.get("tuning") or []:
        print(row)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=sorted(DIRECTORIES), default="heldout")
    parser.add_argument("--languages", nargs="+", default=list(LANGUAGES))
    parser.add_argument("--offline", action="store_true", help="replay the model's parses, no stack")
    parser.add_argument("--model", type=Path, default=None, help="offline: this model, not the current data's")
    parser.add_argument("--tune", action="store_true", help="offline: grid the context rule (dev only)")
    parser.add_argument("--concurrency", type=int, default=8, help="stack: dialogues at once")
    parser.add_argument("--settle", type=float, default=1.5, help="stack: seconds to wait for further replies")
    parser.add_argument("--work", type=Path, default=PROJECT_ROOT / "var" / "bench" / "dialogues")
    parser.add_argument("--report", type=Path, default=None)
    parser.add_argument("--smoke", action="store_true", help="stack: two dialogues, for the test suite")
    args = parser.parse_args(argv)
    if args.tune and args.split != "dev":
        parser.error("rules are tuned on the development set only")
    report = asyncio.run(offline(args) if args.offline else through_stack(args))
    print_report(report)
    name = f"dialogues_{args.split}_{report['mode']}" + ("-smoke" if args.smoke else "")
    print("report:", write_report(name, report, args.report))


if __name__ == "__main__":
    main()
