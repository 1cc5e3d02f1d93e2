"""Rasa training data generated from the knowledge base: one retrieval intent `faq`, one sub-intent per entry.

Each entry's question and its variants, in every language, become examples of `faq/<key>`. The responses
Rasa requires for retrieval intents carry only the entry key: the answer text itself is always read from the
knowledge base at reply time, so a published edit is live without retraining.
"""

from __future__ import annotations

import yaml

from knowledge.schema import BlockDumper, EntryData, normal_question

RETRIEVAL_INTENT = "faq"


def examples_for(entry: EntryData) -> list[str]:
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


def render_nlu(entries: list[EntryData]) -> str:
    live = entries  # everything in the live tables is published
    document = {
        "version": "3.1",
        "nlu": [
            {"intent": f"{RETRIEVAL_INTENT}/{e.key}", "examples": "".join(f"- {x}\n" for x in examples_for(e))}
            for e in live
        ],
        "responses": {
            f"utter_{RETRIEVAL_INTENT}/{e.key}": [{"custom": {"type": "faq_ref", "entry": e.key}}] for e in live
        },
    }
    header = "# Generated from the knowledge base by knowledge.training_data -- do not edit; edit the entries.\n"
    return header + yaml.dump(document, Dumper=BlockDumper, allow_unicode=True, sort_keys=False, width=1000)
