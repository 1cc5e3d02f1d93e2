"""The exchange format of an entry (YAML import/export, staff tools) with its validation rules."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationInfo, field_validator, model_validator
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import Node
from yaml.resolver import Resolver

from core.settings import LANGUAGES
from knowledge.models import ASPECTS, REVIEW_STATES, TOPICS

MIN_VARIANTS = 2  # per language; the content issue raises the bar to 6 in the seed data's own test


class LanguageText(BaseModel):
    question: str = Field(min_length=3)
    answer: str = Field(min_length=10, max_length=3500)
    variants: list[str] = Field(default_factory=list)
    # How people ask for this answer in a conversation, leaving out what it already established ("and how
    # much is it?" after a work permit's answer). Trained after a marker of the entry's subject
    # (knowledge/training_data.py); several entries may list the same words (the subject tells them apart),
    # so they are not checked against other entries.
    follow_ups: list[str] = Field(default_factory=list)
    source: str | None = None  # the legal source in this language; the entry's `legal_source` otherwise

    @field_validator("variants", "follow_ups")
    @classmethod
    def _distinct(cls, variants: list[str], info: ValidationInfo) -> list[str]:
        cleaned = [v.strip() for v in variants if v.strip()]
        if len({v.lower() for v in cleaned}) != len(cleaned):
            what = "question variants" if info.field_name == "variants" else "follow-up questions"
            raise ValueError(f"{what} repeat each other")
        return cleaned


FACT_KINDS = ("fee", "deadline", "period", "phone", "address", "rule")


class DatedFact(BaseModel):
    """A time-bound fact an answer states (a fee, a deadline, a period, a phone number…) and when someone last
    confirmed it against its source: staff re-check the oldest first."""

    fact: str = Field(min_length=3, max_length=300)  # in English, as staff would search for it
    kind: str = "rule"
    confirmed_on: dt.date

    @field_validator("kind")
    @classmethod
    def _kind(cls, kind: str) -> str:
        if kind not in FACT_KINDS:
            raise ValueError(f"unknown kind of fact {kind!r}; one of {', '.join(FACT_KINDS)}")
        return kind


class EntryData(BaseModel):
    # Short enough to travel in a Telegram button ("did you mean" buttons carry the key).
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{2,44}$")
    topic: str
    legal_source: str = Field(min_length=5)
    source_url: str | None = None
    reviewed_on: dt.date
    review_state: str = "published"
    review_note: str | None = None
    needs_person: bool = False  # the chat also goes to a person (detention, violence, lost documents…)
    dated_facts: list[DatedFact] = Field(default_factory=list)
    # Which subjects (topics) a conversation can be about that the entry serves, most specific first; which
    # aspects of them it answers; related questions to offer after it (keys; none: computed).
    subjects: list[str] = Field(default_factory=list)
    aspects: list[str] = Field(default_factory=list)
    related: list[str] = Field(default_factory=list, max_length=3)
    texts: dict[str, LanguageText]

    @field_validator("topic")
    @classmethod
    def _topic(cls, topic: str) -> str:
        if topic not in TOPICS:
            raise ValueError(f"unknown topic {topic!r}; one of {', '.join(TOPICS)}")
        return topic

    @field_validator("subjects", "aspects")
    @classmethod
    def _labels(cls, values: list[str], info: ValidationInfo) -> list[str]:
        allowed = TOPICS if info.field_name == "subjects" else ASPECTS
        unknown = [v for v in values if v not in allowed]
        if unknown:
            raise ValueError(f"unknown {info.field_name} {unknown}; each one of {', '.join(allowed)}")
        return list(dict.fromkeys(values))

    @field_validator("related")
    @classmethod
    def _related(cls, related: list[str]) -> list[str]:
        return list(dict.fromkeys(k.strip() for k in related if k.strip()))

    @field_validator("review_state")
    @classmethod
    def _state(cls, state: str) -> str:
        if state not in REVIEW_STATES:
            raise ValueError(f"unknown review state {state!r}")
        return state

    @model_validator(mode="after")
    def _all_languages(self) -> EntryData:
        missing = [lang for lang in LANGUAGES if lang not in self.texts]
        if missing:
            raise ValueError(f"entry {self.key}: missing languages {missing}")
        for lang, text in self.texts.items():
            if len(text.variants) < MIN_VARIANTS:
                raise ValueError(f"entry {self.key}: {lang} needs at least {MIN_VARIANTS} question variants")
        return self


# Imports are parsed with limits: a file larger than this, nested deeper (an entry is 5 levels: list, entry,
# texts, language, variants) or using anchors/aliases (`&a`/`*a`, which can make a small file expand into a
# huge or endlessly deep structure) is refused with a clear message instead of exhausting memory or the stack.
MAX_YAML_BYTES = 2 * 1024 * 1024
MAX_YAML_DEPTH = 20


class YamlRefused(ValueError):
    pass


try:  # libyaml's parser (about 7x faster than Python's), with Python's composer for the checks below
    from yaml._yaml import CParser

    class _Loader(Composer, CParser, SafeConstructor, Resolver):
        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)
            Composer.__init__(self)

except ImportError:  # pragma: no cover - PyYAML's wheels ship libyaml
    _Loader = yaml.SafeLoader  # type: ignore[misc,assignment]


class _LimitedLoader(_Loader):
    def __init__(self, stream: str, max_depth: int) -> None:
        super().__init__(stream)
        self._depth, self._max_depth = 0, max_depth

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(yaml.AliasEvent):
            raise YamlRefused("anchors and aliases (&name, *name) are not supported: write the values out")
        self._depth += 1
        if self._depth > self._max_depth:
            raise YamlRefused(f"the data is nested more than {self._max_depth} levels deep")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def parse_yaml(raw: bytes, *, max_bytes: int = MAX_YAML_BYTES, max_depth: int = MAX_YAML_DEPTH) -> Any:
    """One YAML document, within the limits above. Raises YamlRefused, yaml.YAMLError or UnicodeDecodeError.
    CPU-bound: call it off the event loop (asyncio.to_thread) in a server."""
    if len(raw) > max_bytes:
        raise YamlRefused(f"the file has {len(raw) / 2**20:.1f} MB; at most {max_bytes / 2**20:.0f} MB is read")
    loader = _LimitedLoader(raw.decode("utf-8"), max_depth)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def parse_entries(raw: bytes, where: str = "the file") -> list[EntryData]:
    """Entries from an import file: YAML within limits, a list, each entry valid (pydantic ValidationError)."""
    items = parse_yaml(raw) or []
    if not isinstance(items, list):
        raise ValueError(f"{where} must hold a list of entries")
    return [EntryData.model_validate(item) for item in items]


def load_yaml(path: Path) -> list[EntryData]:
    return checked(parse_entries(path.read_bytes(), str(path)))


def load_dir(directory: Path) -> list[EntryData]:
    entries: list[EntryData] = []
    for path in sorted(directory.glob("*.yml")):
        entries.extend(load_yaml(path))
    return checked(entries)


def checked(entries: list[EntryData]) -> list[EntryData]:
    """`entries`, if they can live together: unique keys, and no question under two entries."""
    keys = [e.key for e in entries]
    duplicates = {k for k in keys if keys.count(k) > 1}
    if duplicates:
        raise ValueError(f"duplicate entry keys: {sorted(duplicates)}")
    shared = shared_questions(entries)
    if shared:
        listed = "; ".join(f"{lang} {text!r}: {', '.join(owners)}" for (lang, text), owners in shared.items())
        raise ValueError(f"the same question under two entries (the model would learn it both ways): {listed}")
    return entries


def normal_question(text: str) -> str:
    """A question as training sees it: spacing and case do not make two questions."""
    return " ".join(text.split()).lower()


def shared_questions(entries: list[EntryData]) -> dict[tuple[str, str], list[str]]:
    """(language, question) written under more than one entry, with those entries' keys."""
    owners: dict[tuple[str, str], list[str]] = {}
    for entry in entries:
        for lang, text in entry.texts.items():
            for question in {normal_question(q) for q in (text.question, *text.variants)}:
                owners.setdefault((lang, question), []).append(entry.key)
    return {k: v for k, v in owners.items() if len(v) > 1}


class BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks: readable exports, readable diffs, Rasa's own file style."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


BlockDumper.add_representer(str, _str)


def dump_yaml(entries: list[EntryData]) -> str:
    data = [e.model_dump(mode="json", exclude_none=True) for e in entries]
    return yaml.dump(data, Dumper=BlockDumper, allow_unicode=True, sort_keys=False, width=1000)


SEED_DIR = Path(__file__).resolve().parent / "seed"
