"""Reading and writing the knowledge base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from knowledge.models import Entry, EntryText, QuestionVariant
from knowledge.schema import EntryData, LanguageText


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


class KnowledgeBase:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def count(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count(Entry.id))) or 0

    async def answer(self, key: str, language: str) -> Answer | None:
        """The entry's answer in `language`; None when the entry is unknown or not published."""
        async with self._sessions() as session:
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            if entry is None or entry.review_state not in ("published", "needs_review"):
                return None
            texts = {t.language: t for t in entry.texts}
            text = texts.get(language) or texts.get("en")
            if text is None:
                return None
            return Answer(
                key=entry.key, topic=entry.topic, language=text.language, question=text.question,
                text=text.answer, legal_source=entry.legal_source, source_url=entry.source_url,
                reviewed_on=entry.reviewed_on, review_state=entry.review_state,
            )

    async def upsert(self, items: list[EntryData]) -> int:
        """Creates or replaces entries by key; returns how many were written."""
        async with self._sessions() as session, session.begin():
            for item in items:
                entry = await session.scalar(select(Entry).where(Entry.key == item.key))
                if entry is None:
                    entry = Entry(key=item.key)
                    session.add(entry)
                entry.topic = item.topic
                entry.legal_source = item.legal_source
                entry.source_url = item.source_url
                entry.reviewed_on = item.reviewed_on
                entry.review_state = item.review_state
                entry.review_note = item.review_note
                # Update texts in place: replacing the rows would insert before deleting and hit the
                # (entry, language) unique constraint.
                existing = {t.language: t for t in entry.texts}
                for lang, text in item.texts.items():
                    if lang in existing:
                        existing[lang].question, existing[lang].answer = text.question, text.answer
                    else:
                        entry.texts.append(EntryText(language=lang, question=text.question, answer=text.answer))
                for lang in set(existing) - set(item.texts):
                    entry.texts.remove(existing[lang])
                entry.variants = [
                    QuestionVariant(language=lang, text=v) for lang, t in item.texts.items() for v in t.variants
                ]
        return len(items)

    async def export(self) -> list[EntryData]:
        async with self._sessions() as session:
            entries = (await session.scalars(select(Entry).order_by(Entry.topic, Entry.key))).all()
            result = []
            for entry in entries:
                texts = {}
                for text in sorted(entry.texts, key=lambda t: t.language):
                    variants = [v.text for v in entry.variants if v.language == text.language]
                    texts[text.language] = LanguageText(question=text.question, answer=text.answer, variants=variants)
                result.append(EntryData(
                    key=entry.key, topic=entry.topic, legal_source=entry.legal_source, source_url=entry.source_url,
                    reviewed_on=entry.reviewed_on, review_state=entry.review_state, review_note=entry.review_note,
                    texts=texts,
                ))
            return result
