"""Reading and writing the live (published) knowledge base: what users are answered from."""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge.models import FOLLOW_UP, VARIANT, Entry, EntryText, QuestionVariant, Revision
from knowledge.schema import DatedFact, EntryData, LanguageText, normal_question

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Answer:
    key: str
    topic: str
    language: str
    question: str
    text: str
    legal_source: str
    source_url: str | None
    reviewed_on: dt.date
    review_state: str
    needs_person: bool = False


def to_data(entry: Entry) -> EntryData:
    texts = {}
    for text in entry.texts:
        rows = [v for v in entry.variants if v.language == text.language]
        texts[text.language] = LanguageText(
            question=text.question,
            answer=text.answer,
            variants=[v.text for v in rows if v.kind != FOLLOW_UP],
            follow_ups=[v.text for v in rows if v.kind == FOLLOW_UP],
            source=text.source,
        )
    return EntryData(
        key=entry.key,
        topic=entry.topic,
        legal_source=entry.legal_source,
        source_url=entry.source_url,
        reviewed_on=entry.reviewed_on,
        review_state=entry.review_state,
        review_note=entry.review_note,
        needs_person=entry.needs_person,
        dated_facts=[DatedFact.model_validate(f) for f in entry.dated_facts or []],
        subjects=list(entry.subjects or []),
        aspects=list(entry.aspects or []),
        related=list(entry.related or []),
        texts=texts,
    )


async def write_entry(session: AsyncSession, item: EntryData, actor: str) -> Entry:
    """Creates or replaces the live entry `item.key` inside the caller's transaction; bumps its version."""
    entry = await session.scalar(select(Entry).where(Entry.key == item.key))
    new = entry is None
    if entry is None:
        entry = Entry(key=item.key, version=0)
        session.add(entry)
    entry.topic = item.topic
    entry.legal_source = item.legal_source
    entry.source_url = item.source_url
    entry.reviewed_on = item.reviewed_on
    entry.review_state = item.review_state
    entry.review_note = item.review_note
    entry.needs_person = item.needs_person
    entry.dated_facts = merged_facts(entry.dated_facts or [], item)
    entry.subjects, entry.aspects, entry.related = list(item.subjects), list(item.aspects), list(item.related)
    entry.version = (entry.version or 0) + 1
    entry.published_by = actor
    # Update texts in place: replacing the rows would insert before deleting and hit the
    # (entry, language) unique constraint.
    existing = {t.language: t for t in entry.texts}
    mark_out_of_step(existing, item)
    for lang, text in item.texts.items():
        if lang in existing:
            existing[lang].question, existing[lang].answer = text.question, text.answer
            existing[lang].source = text.source
        else:
            entry.texts.append(EntryText(language=lang, question=text.question, answer=text.answer, source=text.source))
    for lang in set(existing) - set(item.texts):
        entry.texts.remove(existing[lang])
    variants = [(lang, v, VARIANT) for lang, t in item.texts.items() for v in t.variants]
    variants += [(lang, v, FOLLOW_UP) for lang, t in item.texts.items() for v in t.follow_ups]
    if not new:
        entry.variants = [QuestionVariant(language=lang, text=v, kind=kind) for lang, v, kind in variants]
        return entry
    # A new entry's variants in one statement: the ORM inserts them one by one (it wants each id back, and
    # SQLite does not promise RETURNING's order), which made seeding 60 entries take 0.75 s.
    await session.flush()  # the entry's id
    if variants:
        rows = [{"entry_id": entry.id, "language": lang, "text": v, "kind": kind} for lang, v, kind in variants]
        await session.execute(insert(QuestionVariant), rows)
    await session.refresh(entry, ["variants"])
    return entry


def merged_facts(live: list[dict], item: EntryData) -> list[dict]:
    """`item`'s dated facts, each keeping the live one's later confirmation: a draft started before a reviewer
    confirmed a fact must not take that confirmation back."""
    confirmed = {f.get("fact"): str(f.get("confirmed_on", "")) for f in live}
    facts = [f.model_dump(mode="json") for f in item.dated_facts]
    for fact in facts:
        fact["confirmed_on"] = max(fact["confirmed_on"], confirmed.get(fact["fact"], ""))
    return facts


def mark_out_of_step(existing: dict[str, EntryText], item: EntryData, now: dt.datetime | None = None) -> None:
    """Keeps the three languages in step. An answer changed in a language that was itself in step is a new
    change: the languages left as they were get "translation to check". A changed answer in a language that
    was out of step is its catch-up: its mark goes, and nothing else is marked."""
    changed = {lang for lang, text in item.texts.items() if lang in existing and existing[lang].answer != text.answer}
    leading = {lang for lang in changed if existing[lang].out_of_step_since is None}
    for lang, row in existing.items():
        if lang in changed:
            row.out_of_step_since, row.out_of_step_from = None, None
        elif leading:
            since = row.out_of_step_since or now or dt.datetime.now(dt.UTC)
            sources = set(filter(None, (row.out_of_step_from or "").split(","))) | leading
            row.out_of_step_since, row.out_of_step_from = since, ",".join(sorted(sources))


async def _label_unlabelled(session: AsyncSession, items: list[EntryData]) -> None:
    """Gives the seed's subjects and aspects to live entries that have none (a database from before entries were
    labelled). Labels are not part of an entry's published text: no version bump, nothing to review."""
    seeded = {item.key: item for item in items if item.subjects or item.aspects}
    if not seeded:
        return
    for entry in await session.scalars(select(Entry).where(Entry.key.in_(list(seeded)))):
        if not entry.subjects and not entry.aspects:
            entry.subjects, entry.aspects = list(seeded[entry.key].subjects), list(seeded[entry.key].aspects)


async def _add_follow_ups(session: AsyncSession, items: list[EntryData]) -> None:
    """Gives the seed's follow-up questions to live entries that have none in any language (a database from
    before entries had them): training data, like the labels not part of the published text."""
    seeded = {item.key: item for item in items if any(t.follow_ups for t in item.texts.values())}
    if not seeded:
        return
    having = select(QuestionVariant.entry_id).where(QuestionVariant.kind == FOLLOW_UP)
    rows = [
        {"entry_id": entry_id, "language": lang, "text": text, "kind": FOLLOW_UP}
        for entry_id, key in await session.execute(
            select(Entry.id, Entry.key).where(Entry.key.in_(list(seeded)), Entry.id.not_in(having))
        )
        for lang, t in seeded[key].texts.items()
        for text in t.follow_ups
    ]
    if rows:
        await session.execute(insert(QuestionVariant), rows)


async def questions_of_other_entries(
    session: AsyncSession, entries: list[EntryData]
) -> list[tuple[str, str, str, str]]:
    """(entry key, language, question, other entry's key) for each of `entries`' questions and variants that
    another live entry already has: the same text under two entries is two labels for one example. One read of
    the live questions, however many entries are checked."""
    texts = select(EntryText.language, EntryText.question, Entry.key).join(Entry, EntryText.entry_id == Entry.id)
    variants = (
        select(QuestionVariant.language, QuestionVariant.text, Entry.key)
        .join(Entry, QuestionVariant.entry_id == Entry.id)
        .where(QuestionVariant.kind == VARIANT)
    )
    live: dict[tuple[str, str], set[str]] = {}
    for lang, text, key in [*(await session.execute(texts)), *(await session.execute(variants))]:
        live.setdefault((lang, normal_question(text)), set()).add(key)
    return sorted(
        {
            (data.key, lang, q, other)
            for data in entries
            for lang, text in data.texts.items()
            for q in (text.question, *text.variants)
            for other in live.get((lang, normal_question(q)), ())
            if other != data.key
        }
    )


class KnowledgeBase:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def count(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count(Entry.id))) or 0

    async def answer(self, key: str, language: str) -> Answer | None:
        """The live entry's answer in `language` (English if that language is missing), or None."""
        async with self._sessions() as session:
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            if entry is None:
                return None
            texts = {t.language: t for t in entry.texts}
            text = texts.get(language) or texts.get("en")
            if text is None:
                return None
            return Answer(
                key=entry.key,
                topic=entry.topic,
                language=text.language,
                question=text.question,
                text=text.answer,
                legal_source=text.source or entry.legal_source,
                source_url=entry.source_url,
                reviewed_on=entry.reviewed_on,
                review_state=entry.review_state,
                needs_person=entry.needs_person,
            )

    async def upsert(self, items: list[EntryData], actor: str = "system") -> int:
        """Publishes entries directly (seeding, bulk import by an admin); returns how many were written."""
        async with self._sessions() as session, session.begin():
            for item in items:
                await write_entry(session, item, actor)
        return len(items)

    async def add_missing(self, items: list[EntryData], actor: str = "system") -> int:
        """Publishes the entries whose keys the knowledge base lacks (the seed's new entries after an upgrade);
        entries already there, maybe edited by staff since, are left alone. Returns how many were added."""
        async with self._sessions() as session, session.begin():
            present = set((await session.scalars(select(Entry.key))).all())
            missing = [item for item in items if item.key not in present]
            if present and missing:
                # Staff may have given one of a seed entry's questions to another entry: adding it would teach
                # the model that question both ways.
                taken = Counter(key for key, *_ in await questions_of_other_entries(session, missing))
                for key, count in taken.items():
                    log.warning("seed entry %s not added: %d of its questions belong to other entries", key, count)
                missing = [item for item in missing if item.key not in taken]
            for item in missing:
                await write_entry(session, item, actor)
                # The history's first version, so that the first staff change shows only what it changed.
                snapshot = item.model_dump(mode="json")
                session.add(Revision(key=item.key, action="seed", snapshot=snapshot, actor=actor))
            await _label_unlabelled(session, items)
            await _add_follow_ups(session, items)
        return len(missing)

    async def labels(self) -> list[tuple[str, str, list[str], list[str], list[str]]]:
        """(key, topic, subjects, aspects, related) of every live entry: what the conversation logic reads."""
        async with self._sessions() as session:
            rows = await session.execute(select(Entry.key, Entry.topic, Entry.subjects, Entry.aspects, Entry.related))
            return [(k, t, list(s or []), list(a or []), list(r or [])) for k, t, s, a, r in rows]

    async def get(self, key: str) -> EntryData | None:
        async with self._sessions() as session:
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            return None if entry is None else to_data(entry)

    async def export(self) -> list[EntryData]:
        async with self._sessions() as session:
            entries = (await session.scalars(select(Entry).order_by(Entry.topic, Entry.key))).all()
            return [to_data(entry) for entry in entries]

    async def stamp(self) -> tuple[int, int]:
        """Changes whenever any live entry changes: (number of entries, sum of versions)."""
        async with self._sessions() as session:
            row = (await session.execute(select(func.count(Entry.id), func.coalesce(func.sum(Entry.version), 0)))).one()
            return int(row[0]), int(row[1])
