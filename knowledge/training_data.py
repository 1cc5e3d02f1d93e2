"""Rasa training data generated from the knowledge base: one retrieval intent `faq`, one sub-intent per entry.

Each entry's question and its variants, in every language, become examples of `faq/<key>`; so do its
follow-up questions after a marker of the entry's subject, for reading a message with the conversation's
subject (engine/context.py). Some examples of the other intents (thanks, no, out of scope…) are trained after a
subject's marker too, so the parse with the marker reads what a message is in a conversation, not only which
entry it asks for. The responses Rasa requires for retrieval intents carry only
the entry key: the answer text itself is always read from the knowledge base at reply time, so a published
edit is live without retraining.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import yaml

from core.protocol import FaqRef, encode
from engine.context import marked
from knowledge.schema import BlockDumper, EntryData, normal_question

RETRIEVAL_INTENT = "faq"
OTHER_SUBJECT = 3  # per entry and language: questions trained after another subject's marker
# The share of the other intents' examples also trained after a (random) subject's marker: about the share the
# knowledge base's questions have among all examples, so the marker alone does not say "a question".
OTHER_INTENTS_MARKED = 0.6


def examples_for(entry: EntryData) -> list[str]:
    """The entry's questions and variants, in every language. Its follow-up questions are trained only after
    the subject marker (`in_context_examples`): on their own, short chatty questions ("ok so how much?") taught
    the classifier that "ok" and "bye" are knowledge-base questions (held-out intent accuracy -1.5 points)."""
    seen: set[str] = set()
    examples: list[str] = []
    for lang in sorted(entry.texts):
        text = entry.texts[lang]
        for example in [text.question, *text.variants]:
            key = normal_question(example)
            if key not in seen:
                seen.add(key)
                examples.append(" ".join(example.split()))
    return examples


def main_subject(entry: EntryData) -> str:
    return entry.subjects[0] if entry.subjects else entry.topic


def in_context_examples(entry: EntryData, subjects: list[str]) -> list[str]:
    """Examples read with a conversation's subject (engine/context.py): each follow-up question after its own
    subject's marker, and a few of the entry's questions after another subject's marker, so a question that
    names its subject keeps it whatever came before."""
    own = main_subject(entry)
    others = [s for s in subjects if s != own]
    rng = random.Random(entry.key)  # the same examples on every run: the model's fingerprint depends on them
    examples = []
    for lang in sorted(entry.texts):
        text = entry.texts[lang]
        examples += [marked(own, q) for q in text.follow_ups]
        questions = [text.question, *text.variants]
        for question in rng.sample(questions, min(OTHER_SUBJECT, len(questions))) if others else []:
            examples.append(marked(rng.choice(others), question))
    return list(dict.fromkeys(examples))


def marked_other_intents(intents: Mapping[str, Sequence[str]], subjects: list[str]) -> dict[str, list[str]]:
    """A share of each other intent's examples after a subject's marker: "ctxvisa ok thanks" is still thanks."""
    marked_: dict[str, list[str]] = {}
    for intent, examples in sorted(intents.items()):
        rng = random.Random(intent)  # deterministic: the model's fingerprint depends on the examples
        chosen = [x for x in examples if rng.random() < OTHER_INTENTS_MARKED]
        if chosen and subjects:
            marked_[intent] = list(dict.fromkeys(marked(rng.choice(subjects), x) for x in chosen))
    return marked_


def render_nlu(entries: list[EntryData], other_intents: Mapping[str, Sequence[str]] | None = None) -> str:
    """The knowledge base's training data; `other_intents` (intent -> examples, from nlu_data/) adds their
    examples after a subject's marker."""
    live = entries  # everything in the live tables is published
    subjects = sorted({main_subject(e) for e in live})
    in_context = {e.key: in_context_examples(e, subjects) for e in live}
    owners: dict[str, set[str]] = {}
    for key, examples in in_context.items():
        for example in examples:
            owners.setdefault(normal_question(example), set()).add(key)
    # A marked text two entries list (one subject, the same follow-up) would teach the model both ways: neither
    # entry is trained with it.
    taken = {text for text, keys in owners.items() if len(keys) > 1}
    document = {
        "version": "3.1",
        "nlu": [
            {
                "intent": f"{RETRIEVAL_INTENT}/{e.key}",
                "examples": "".join(
                    f"- {x}\n"
                    for x in [*examples_for(e), *(m for m in in_context[e.key] if normal_question(m) not in taken)]
                ),
            }
            for e in live
        ]
        + [
            {"intent": intent, "examples": "".join(f"- {x}\n" for x in examples)}
            for intent, examples in marked_other_intents(other_intents or {}, subjects).items()
        ],
        "responses": {f"utter_{RETRIEVAL_INTENT}/{e.key}": [{"custom": encode(FaqRef(e.key))}] for e in live},
    }
    header = "# Generated from the knowledge base by knowledge.training_data -- do not edit; edit the entries.\n"
    return header + yaml.dump(document, Dumper=BlockDumper, allow_unicode=True, sort_keys=False, width=1000)
