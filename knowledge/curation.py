"""Staff curation of the knowledge base: draft -> in review -> published, with full history.

Rules, enforced here (not only in the web pages):
- editors write drafts and submit them; reviewers and admins publish or send back; admins do everything;
- nobody publishes their own draft except an admin (four eyes);
- a draft started from an older live version cannot be published over a newer one (someone else published
  in between): it must be re-based by editing it again;
- every step is a revision (who, when, what), so any version can be seen, compared and restored.
Publishing writes the live tables the bot reads, so an edited answer is live at once; when question
variants changed, `on_published` is told so the model can be retrained.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core.settings import LANGUAGES
from knowledge.models import Draft, Entry, EntryText, Rating, Revision
from knowledge.schema import EntryData, dump_yaml
from knowledge.store import questions_of_other_entries, to_data, write_entry


class Role(StrEnum):
    editor = "editor"
    reviewer = "reviewer"
    admin = "admin"


@dataclass(frozen=True)
class Actor:
    username: str
    role: Role

    def can_edit(self) -> bool:
        return True  # every role may write drafts

    def can_publish(self) -> bool:
        return self.role in (Role.reviewer, Role.admin)


class CurationError(Exception):
    """A refused step, with a message fit to show to staff."""


@dataclass
class EntryRow:
    key: str
    topic: str
    questions: dict[str, str]  # language -> the question
    review_state: str | None  # None when the entry exists only as a draft
    version: int
    draft_state: str | None
    draft_author: str | None
    votes: Votes

    def question(self, language: str) -> str:
        """The question in `language`, or in English (then any) where it has none."""
        return self.questions.get(language) or self.questions.get("en") or next(iter(self.questions.values()), "")

    @property
    def thumbs_up(self) -> int:
        return self.votes.thumbs_up

    @property
    def thumbs_down(self) -> int:
        return self.votes.thumbs_down


@dataclass(frozen=True)
class Votes:
    """An entry's ratings: in every language together, and per language (language -> (up, down))."""

    thumbs_up: int
    thumbs_down: int
    by_language: dict[str, tuple[int, int]] = field(default_factory=dict)

    def of(self, language: str | None) -> tuple[int, int]:
        return self.by_language.get(language, (0, 0)) if language else (self.thumbs_up, self.thumbs_down)

    @classmethod
    def counted(cls, counts: dict[tuple[str, int], int]) -> Votes:
        """From (language, +1 or -1) -> number of ratings."""
        by_language: dict[str, tuple[int, int]] = {}
        for (language, value), n in counts.items():
            up, down = by_language.get(language, (0, 0))
            by_language[language] = (up + n, down) if value > 0 else (up, down + n)
        return cls(
            sum(up for up, _ in by_language.values()), sum(down for _, down in by_language.values()), by_language
        )


@dataclass
class EntryView:
    key: str
    live: EntryData | None
    version: int
    draft: EntryData | None
    draft_state: str | None
    draft_author: str | None
    draft_base_version: int
    draft_comment: str | None


Published = Callable[[str, bool, Actor], Awaitable[None]]  # key, variants changed, who


def variants_of(data: EntryData | None) -> dict[str, list[str]]:
    return (
        {}
        if data is None
        else {lang: [*t.variants, t.question, "", *t.follow_ups] for lang, t in sorted(data.texts.items())}
    )


def diff(old: EntryData | None, new: EntryData | None) -> str:
    """A unified diff of two versions, as YAML, for the history page; languages in one order, whichever order
    each version has them in (the seed's files and the form's differ)."""
    before = dump_yaml([_in_order(old)]).splitlines() if old else []
    after = dump_yaml([_in_order(new)]).splitlines() if new else []
    return "\n".join(difflib.unified_diff(before, after, "before", "after", lineterm="", n=2))


async def vote_counts(
    session: AsyncSession, key: str | None = None, since: dt.datetime | None = None, until: dt.datetime | None = None
) -> dict[str, Votes]:
    """Entry key -> its ratings, for one entry or all, of all time or first given from `since` until before
    `until`."""
    stmt = select(Rating.key, Rating.language, Rating.value, func.count()).group_by(
        Rating.key, Rating.language, Rating.value
    )
    if key is not None:
        stmt = stmt.where(Rating.key == key)
    if since is not None:
        stmt = stmt.where(Rating.created_at >= since)
    if until is not None:
        stmt = stmt.where(Rating.created_at < until)
    counts: dict[str, dict[tuple[str, int], int]] = {}
    for k, language, value, count in (await session.execute(stmt)).all():
        counts.setdefault(k, {})[(language, value)] = count
    return {k: Votes.counted(c) for k, c in counts.items()}


def _in_order(data: EntryData) -> EntryData:
    order: dict[str, int] = {language: n for n, language in enumerate(LANGUAGES)}
    texts = dict(sorted(data.texts.items(), key=lambda item: order.get(str(item[0]), len(order))))
    return data.model_copy(update={"texts": texts})


def _refuse_shared(shared: list[tuple[str, str, str, str]], remedy: str) -> None:
    if shared:
        raise CurationError(
            "These questions already belong to other entries, and the model would learn them both ways: "
            + "; ".join(f'{lang} "{text}" ({other})' for _, lang, text, other in shared)
            + f". {remedy} to reword or remove them."
        )


class Curation:
    def __init__(self, sessions: async_sessionmaker, on_published: Published | None = None) -> None:
        self._sessions = sessions
        self._on_published = on_published

    async def list_entries(self, query: str = "", topic: str = "") -> list[EntryRow]:
        async with self._sessions() as session:
            stmt = select(Entry)
            if topic:
                stmt = stmt.where(Entry.topic == topic)
            if query:
                like = f"%{query.lower()}%"
                matching = select(EntryText.entry_id).where(
                    or_(func.lower(EntryText.question).like(like), func.lower(EntryText.answer).like(like))
                )
                stmt = stmt.where(or_(Entry.key.like(like), Entry.id.in_(matching)))
            entries = (await session.scalars(stmt.order_by(Entry.topic, Entry.key))).all()
            drafts = {d.key: d for d in (await session.scalars(select(Draft))).all()}
            votes = await vote_counts(session)
            rows = []
            for entry in entries:
                draft = drafts.pop(entry.key, None)
                rows.append(
                    EntryRow(
                        entry.key,
                        entry.topic,
                        {t.language: t.question for t in entry.texts},
                        entry.review_state,
                        entry.version,
                        draft.state if draft else None,
                        draft.author if draft else None,
                        votes.get(entry.key, Votes(0, 0)),
                    )
                )
            if not query:  # new entries that exist only as drafts
                for draft in drafts.values():
                    data = EntryData.model_validate(draft.snapshot)
                    if topic and data.topic != topic:
                        continue
                    questions = {language: text.question for language, text in data.texts.items()}
                    rows.append(
                        EntryRow(draft.key, data.topic, questions, None, 0, draft.state, draft.author, Votes(0, 0))
                    )
            return rows

    async def votes(self, key: str) -> Votes:
        async with self._sessions() as session:
            counts = await vote_counts(session, key)
        return counts.get(key, Votes(0, 0))

    async def view(self, key: str) -> EntryView | None:
        async with self._sessions() as session:
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            draft = await session.scalar(select(Draft).where(Draft.key == key))
            if entry is None and draft is None:
                return None
            return EntryView(
                key=key,
                live=to_data(entry) if entry else None,
                version=entry.version if entry else 0,
                draft=EntryData.model_validate(draft.snapshot) if draft else None,
                draft_state=draft.state if draft else None,
                draft_author=draft.author if draft else None,
                draft_base_version=draft.base_version if draft else 0,
                draft_comment=draft.comment if draft else None,
            )

    async def save_draft(
        self, actor: Actor, data: EntryData, comment: str | None = None, *, action: str = "save"
    ) -> None:
        async with self._sessions() as session, session.begin():
            entry = await session.scalar(select(Entry).where(Entry.key == data.key))
            draft = await session.scalar(select(Draft).where(Draft.key == data.key))
            snapshot = data.model_dump(mode="json")
            if draft is None:
                draft = Draft(key=data.key, author=actor.username)
                session.add(draft)
            elif draft.state == "in_review" and action == "save":
                raise CurationError("This draft is in review; a reviewer must send it back before it can be edited.")
            draft.snapshot, draft.state, draft.author, draft.comment = snapshot, "draft", actor.username, comment
            draft.base_version = entry.version if entry else 0
            session.add(Revision(key=data.key, action=action, snapshot=snapshot, actor=actor.username, comment=comment))

    async def submit(self, actor: Actor, key: str) -> None:
        async with self._sessions() as session, session.begin():
            draft = await self._draft(session, key, "draft")
            draft.state = "in_review"
            session.add(Revision(key=key, action="submit", snapshot=draft.snapshot, actor=actor.username))

    async def send_back(self, actor: Actor, key: str, comment: str) -> None:
        if not actor.can_publish():
            raise CurationError("Only reviewers and admins can send a draft back.")
        async with self._sessions() as session, session.begin():
            draft = await self._draft(session, key, "in_review")
            draft.state, draft.comment = "draft", comment
            session.add(
                Revision(key=key, action="send_back", snapshot=draft.snapshot, actor=actor.username, comment=comment)
            )

    async def discard(self, actor: Actor, key: str) -> None:
        async with self._sessions() as session, session.begin():
            draft = await self._draft(session, key, None)
            if draft.author != actor.username and actor.role is not Role.admin:
                raise CurationError("Only the draft's author or an admin can discard it.")
            session.add(Revision(key=key, action="discard", snapshot=draft.snapshot, actor=actor.username))
            await session.delete(draft)

    async def publish(self, actor: Actor, key: str, comment: str | None = None) -> bool:
        """Publishes the reviewed draft; returns whether question variants changed (the model needs training)."""
        if not actor.can_publish():
            raise CurationError("Only reviewers and admins can publish.")
        async with self._sessions() as session, session.begin():
            draft = await self._draft(session, key, "in_review")
            if draft.author == actor.username and actor.role is not Role.admin:
                raise CurationError("You cannot publish your own draft: another reviewer must approve it.")
            entry = await session.scalar(select(Entry).where(Entry.key == key))
            if entry is not None and entry.version != draft.base_version:
                raise CurationError(
                    f"The live entry changed (version {entry.version}) after this draft was started from version "
                    f"{draft.base_version}: open the draft, check it against the live text and save it again."
                )
            data = EntryData.model_validate(draft.snapshot)
            _refuse_shared(await questions_of_other_entries(session, [data]), "Send the draft back")
            before = to_data(entry) if entry is not None else None
            await write_entry(session, data, actor.username)
            session.add(
                Revision(key=key, action="publish", snapshot=draft.snapshot, actor=actor.username, comment=comment)
            )
            await session.delete(draft)
        changed = variants_of(before) != variants_of(data)
        if self._on_published is not None:
            await self._on_published(key, changed, actor)
        return changed

    async def history(self, key: str) -> list[Revision]:
        async with self._sessions() as session:
            return list(
                (await session.scalars(select(Revision).where(Revision.key == key).order_by(Revision.id.desc()))).all()
            )

    async def revision(self, revision_id: int) -> Revision | None:
        async with self._sessions() as session:
            return await session.get(Revision, revision_id)

    async def restore(self, actor: Actor, revision_id: int) -> str:
        """Makes an old version the current draft (to be reviewed and published like any change)."""
        revision = await self.revision(revision_id)
        if revision is None:
            raise CurationError("No such version.")
        data = EntryData.model_validate(revision.snapshot)
        async with self._sessions() as session, session.begin():
            draft = await session.scalar(select(Draft).where(Draft.key == data.key))
            if draft is not None and draft.state == "in_review":
                raise CurationError("A draft of this entry is in review; decide on it first.")
        await self.save_draft(actor, data, f"restored version #{revision_id}", action="restore")
        return data.key

    async def import_entries(self, actor: Actor, entries: list[EntryData], *, publish: bool) -> int:
        """Bulk import: admins may publish at once; otherwise every entry becomes a draft in review."""
        if publish and actor.role is not Role.admin:
            raise CurationError("Only admins can publish an import directly.")
        if publish:
            changed_keys = []
            async with self._sessions() as session, session.begin():
                for data in entries:
                    entry = await session.scalar(select(Entry).where(Entry.key == data.key))
                    before = to_data(entry) if entry is not None else None
                    await write_entry(session, data, actor.username)
                    session.add(
                        Revision(
                            key=data.key, action="import", snapshot=data.model_dump(mode="json"), actor=actor.username
                        )
                    )
                    if variants_of(before) != variants_of(data):
                        changed_keys.append(data.key)
                # Checked once all are written, so two imported entries sharing a question are caught too.
                _refuse_shared(await questions_of_other_entries(session, entries), "Send a corrected file")
            if self._on_published is not None and entries:
                await self._on_published(entries[0].key, bool(changed_keys), actor)
            return len(entries)
        for data in entries:
            await self.save_draft(actor, data, "imported", action="import")
            await self.submit(actor, data.key)
        return len(entries)

    async def _draft(self, session, key: str, state: str | None) -> Draft:
        draft = await session.scalar(select(Draft).where(Draft.key == key))
        if draft is None:
            raise CurationError("There is no draft of this entry.")
        if state is not None and draft.state != state:
            raise CurationError(f"The draft is {draft.state.replace('_', ' ')}, not {state.replace('_', ' ')}.")
        return draft
