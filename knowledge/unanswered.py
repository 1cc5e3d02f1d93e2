"""Questions the assistant could not answer confidently: stored redacted, grouped, turned into knowledge."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from core.privacy import redact
from knowledge.curation import Actor, Curation, CurationError
from knowledge.models import Unanswered
from knowledge.similarity import similarity, trigrams

GROUP_THRESHOLD = 0.55
MAX_SHOWN = 500


@dataclass
class Group:
    ids: list[int]
    texts: list[str]
    languages: set[str]
    suggestions: list[str]
    latest: object = None
    after: list[str] = field(default_factory=list)  # the entries answered just before, for follow-ups
    count: int = field(init=False)

    def __post_init__(self) -> None:
        self.count = len(self.ids)


def best_first(rankings: list[list[str]]) -> list[str]:
    """The entries suggested for a group's questions, the best match first: each question's suggestions come
    best first, and an entry scores 1/rank for each (suggested first by more questions wins; then by key)."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1 / rank
    return sorted(scores, key=lambda key: (-scores[key], key))


class UnansweredLog:
    def __init__(self, sessions: async_sessionmaker) -> None:
        self._sessions = sessions

    async def record(
        self,
        text: str,
        language: str,
        reason: str,
        confidence: float,
        suggestions: list[str],
        after: str | None = None,
    ) -> None:
        """Stores a question not answered; `after`: the entry answered just before it in the conversation."""
        async with self._sessions() as session, session.begin():
            session.add(
                Unanswered(
                    text=redact(text)[:1000],
                    language=language,
                    reason=reason,
                    confidence=round(confidence, 3),
                    suggestions=suggestions,
                    after_key=after,
                )
            )

    async def open_items(self) -> list[Unanswered]:
        async with self._sessions() as session:
            return list(
                (
                    await session.scalars(
                        select(Unanswered)
                        .where(Unanswered.resolved.is_(False))
                        .order_by(Unanswered.id.desc())
                        .limit(MAX_SHOWN)
                    )
                ).all()
            )

    async def groups(self) -> list[Group]:
        """Greedy clustering by trigram similarity; the largest groups first."""
        clusters: list[tuple[frozenset[str], list[Unanswered]]] = []
        for item in await self.open_items():
            grams = trigrams(item.text)
            for centre, members in clusters:
                if similarity(centre, grams) >= GROUP_THRESHOLD:
                    members.append(item)
                    break
            else:
                clusters.append((grams, [item]))
        groups = []
        for _, members in clusters:
            suggestions = best_first([m.suggestions or [] for m in members])
            groups.append(
                Group(
                    [m.id for m in members],
                    [m.text for m in members][:5],
                    {m.language for m in members},
                    suggestions,
                    max(m.created_at for m in members),
                    sorted({m.after_key for m in members if m.after_key}),
                )
            )
        groups.sort(key=lambda g: (g.count, g.latest), reverse=True)
        return groups

    async def resolve(self, ids: list[int], key: str | None) -> None:
        if not ids:
            return
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(Unanswered).where(Unanswered.id.in_(ids)).values(resolved=True, resolved_key=key)
            )

    async def attach(self, actor: Actor, curation: Curation, ids: list[int], key: str) -> int:
        """Adds the questions to a draft of entry `key`, in their language: as follow-up questions those asked
        right after another answer, as variants the others."""
        view = await curation.view(key)
        current = None if view is None else view.draft or view.live
        if current is None:
            raise CurationError("No such entry.")
        data = current.model_copy(deep=True)
        async with self._sessions() as session:
            items = (await session.scalars(select(Unanswered).where(Unanswered.id.in_(ids)))).all()
        added = 0
        for item in items:
            text = data.texts.get(item.language)
            if text is None:
                continue
            kind = text.follow_ups if item.after_key else text.variants
            if item.text.lower() not in {v.lower() for v in kind}:
                kind.append(item.text)
                added += 1
        await curation.save_draft(actor, data, f"added {added} unanswered question(s)")
        await self.resolve([item.id for item in items], key)
        return added
