"""Keeping published answers right over time: the time-bound facts to re-check, and the translations to check.

Facts: each entry lists the fees, deadlines, periods and phone numbers it states with when they were last
confirmed (`EntryData.dated_facts`). Staff re-check the oldest first, and among equally old ones the entries
users read most; a reviewer who has checked a fact against its source confirms it here, which dates it today.

Translations: publishing a changed answer in one language marks the other languages' answers "translation to
check" (`store.mark_out_of_step`); users of those languages keep reading the last published text. The mark
goes when a later publish changes that language's answer, or when a reviewer confirms the text still says
the same. Both confirmations are recorded in the entry's history; neither changes the entry's version, so
drafts in progress stay publishable.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.db import as_utc
from knowledge.curation import Actor, CurationError
from knowledge.models import Entry, Revision, SentAnswer
from knowledge.store import to_data

ORDERS = ("oldest", "most_read")


@dataclass(frozen=True)
class FactToCheck:
    key: str
    topic: str
    index: int  # position in the entry's dated_facts: what the confirm form sends back
    fact: str
    kind: str
    confirmed_on: dt.date
    reads: int  # answers of the entry sent in the last `Upkeep.reads_window` (kb_sent_answers)

    def age_days(self, today: dt.date) -> int:
        return (today - self.confirmed_on).days


@dataclass(frozen=True)
class OutOfStep:
    key: str
    topic: str
    language: str  # the answer to check
    changed: tuple[str, ...]  # the languages whose published change it has not followed
    since: dt.datetime
    question: str  # the entry's question in that language
    reads: int


class Upkeep:
    def __init__(self, sessions: async_sessionmaker, today: dt.date | None = None) -> None:
        self._sessions = sessions
        self._today = today

    def today(self) -> dt.date:
        return self._today or dt.datetime.now(dt.UTC).date()

    async def _reads(self, session) -> dict[str, int]:
        rows = await session.execute(select(SentAnswer.key, func.count()).group_by(SentAnswer.key))
        return {key: int(count) for key, count in rows.all()}

    async def facts_to_check(self, order: str = "oldest", limit: int | None = None) -> list[FactToCheck]:
        """Every dated fact of the live entries: the oldest confirmation first (ties: the most read entry), or
        with `order="most_read"` the most read entries first (ties: the oldest)."""
        async with self._sessions() as session:
            reads = await self._reads(session)
            entries = (await session.scalars(select(Entry))).all()
        facts = [
            FactToCheck(e.key, e.topic, i, f.fact, f.kind, f.confirmed_on, reads.get(e.key, 0))
            for e in entries
            for i, f in enumerate(to_data(e).dated_facts)
        ]
        if order == "most_read":
            facts.sort(key=lambda f: (-f.reads, f.confirmed_on, f.key, f.index))
        else:
            facts.sort(key=lambda f: (f.confirmed_on, -f.reads, f.key, f.index))
        return facts[:limit] if limit else facts

    async def out_of_step(self) -> list[OutOfStep]:
        """Answers whose translation is to be checked, the longest waiting first."""
        async with self._sessions() as session:
            reads = await self._reads(session)
            entries = (await session.scalars(select(Entry))).all()
        rows = [
            OutOfStep(
                e.key,
                e.topic,
                t.language,
                tuple((t.out_of_step_from or "").split(",")),
                as_utc(t.out_of_step_since),
                t.question,
                reads.get(e.key, 0),
            )
            for e in entries
            for t in e.texts
            if t.out_of_step_since is not None
        ]
        return sorted(rows, key=lambda r: (r.since, r.key, r.language))

    async def marks(self, key: str) -> dict[str, str]:
        """Entry `key`'s answers waiting for a translation check: language -> the changed languages."""
        async with self._sessions() as session:
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            texts = entry.texts if entry else []
        return {t.language: t.out_of_step_from or "" for t in texts if t.out_of_step_since is not None}

    async def confirm_fact(self, actor: Actor, key: str, index: int, note: str | None = None) -> str:
        """Dates fact `index` of entry `key` today: a reviewer checked it against its source. Returns the fact."""
        if not actor.can_publish():
            raise CurationError("Only reviewers and admins confirm facts.")
        async with self._sessions() as session, session.begin():
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            if entry is None or not 0 <= index < len(entry.dated_facts or []):
                raise CurationError("That fact is no longer in the entry; reload the list.")
            facts = [dict(f) for f in entry.dated_facts]
            facts[index]["confirmed_on"] = self.today().isoformat()
            entry.dated_facts = facts  # a new list: JSON columns do not notice changes inside the old one
            comment = f"confirmed: {facts[index]['fact']}" + (f" ({note})" if note else "")
            _record(session, entry, "confirm_fact", actor, comment)
            return str(facts[index]["fact"])

    async def confirm_translation(self, actor: Actor, key: str, language: str) -> None:
        """Clears the "translation to check" mark of `language`: a reviewer read it against the changed text."""
        if not actor.can_publish():
            raise CurationError("Only reviewers and admins confirm translations.")
        async with self._sessions() as session, session.begin():
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            text = next((t for t in entry.texts if t.language == language), None) if entry else None
            if entry is None or text is None or text.out_of_step_since is None:
                raise CurationError("That answer is not waiting for a check (any more).")
            changed = text.out_of_step_from
            text.out_of_step_since, text.out_of_step_from = None, None
            comment = f"{language} answer checked against the {changed} change: still says the same"
            _record(session, entry, "confirm_translation", actor, comment)


def _record(session, entry: Entry, action: str, actor: Actor, comment: str) -> None:
    """The confirmation in the entry's history, with the entry as it now stands."""
    snapshot = to_data(entry).model_dump(mode="json")
    session.add(Revision(key=entry.key, action=action, snapshot=snapshot, actor=actor.username, comment=comment))
