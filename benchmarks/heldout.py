"""The held-out test set (nlu_test/) and the development set (nlu_dev/): examples never trained on, in every
language, with their labels. Choices (training data, thresholds, weights) are made on the development set;
the held-out set only reports, so its figures stay an honest estimate.

`heldout_<lang>.yml` is Rasa's NLU format: intents, `faq/<entry>` for questions the knowledge base answers,
and `[value](application_number)` annotations. `verification.yml` holds what applicants type when asked for
a date of birth or a FIN.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from core.settings import LANGUAGES, PROJECT_ROOT

HELDOUT_DIR = PROJECT_ROOT / "nlu_test"
DEV_DIR = PROJECT_ROOT / "nlu_dev"
_ANNOTATION = re.compile(r"\[([^\]]+)\]\(([^)]+)\)")


@dataclass(frozen=True)
class Example:
    language: str
    text: str  # as a user types it (annotations removed)
    intent: str  # "faq" for knowledge-base questions
    entry: str | None = None  # the knowledge-base entry, for faq examples
    entities: tuple[tuple[str, str], ...] = field(default=())  # (entity, value)


def strip_annotations(text: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    entities = tuple((m.group(2), m.group(1)) for m in _ANNOTATION.finditer(text))
    return _ANNOTATION.sub(lambda m: m.group(1), text), entities


def read_examples(path: Path, language: str) -> list[Example]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    examples = []
    for block in data.get("nlu", []):
        label = block.get("intent")
        if not label:
            continue
        intent, _, entry = label.partition("/")
        for line in str(block.get("examples", "")).splitlines():
            line = line.strip()
            if not line.startswith("- "):
                continue
            text, entities = strip_annotations(line[2:].strip())
            examples.append(Example(language, text, intent, entry or None, entities))
    return examples


def heldout(languages: tuple[str, ...] = LANGUAGES, directory: Path = HELDOUT_DIR) -> list[Example]:
    return [e for lang in languages for e in read_examples(directory / f"heldout_{lang}.yml", lang)]


def development(languages: tuple[str, ...] = LANGUAGES, directory: Path = DEV_DIR) -> list[Example]:
    return [e for lang in languages for e in read_examples(directory / f"dev_{lang}.yml", lang)]


def verification_cases(directory: Path = HELDOUT_DIR) -> list[dict]:
    return yaml.safe_load((directory / "verification.yml").read_text(encoding="utf-8"))


def normalized(text: str) -> str:
    return " ".join(text.lower().split())
