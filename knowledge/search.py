"""Finding the entries closest to a question, for "did you mean…" when the classifier is unsure.

Searches the question, the variants and the answer of every live entry in the user's language (and the
other languages, slightly discounted, since people mix them). The index is rebuilt only when the knowledge
base's stamp (entry count and versions) changes, so a published edit is searchable at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from knowledge.similarity import similarity, trigrams
from knowledge.store import KnowledgeBase


@dataclass(frozen=True)
class Hit:
    key: str
    question: str  # in the requested language
    score: float


@dataclass
class _Indexed:
    key: str
    questions: dict[str, str]
    grams: list[tuple[str, frozenset[str], float]]  # (language, trigrams, weight)


class KnowledgeSearch:
    def __init__(self, kb: KnowledgeBase) -> None:
        self._kb = kb
        self._stamp: tuple[int, int] | None = None
        self._index: list[_Indexed] = []

    async def _ensure_index(self) -> None:
        stamp = await self._kb.stamp()
        if stamp == self._stamp:
            return
        index = []
        for entry in await self._kb.export():
            grams = []
            for lang, text in entry.texts.items():
                for phrase in [text.question, *text.variants]:
                    grams.append((lang, trigrams(phrase), 1.0))
                grams.append((lang, trigrams(text.answer[:400]), 0.6))  # answers are long: a weaker signal
            index.append(_Indexed(entry.key, {lang: t.question for lang, t in entry.texts.items()}, grams))
        self._index, self._stamp = index, stamp

    async def search(self, text: str, language: str, limit: int = 3, min_score: float = 0.25) -> list[Hit]:
        await self._ensure_index()
        query = trigrams(text)
        hits = []
        for item in self._index:
            best = max(
                (
                    similarity(query, grams) * weight * (1.0 if lang == language else 0.85)
                    for lang, grams, weight in item.grams
                ),
                default=0.0,
            )
            if best >= min_score:
                question = item.questions.get(language) or item.questions.get("en", item.key)
                hits.append(Hit(item.key, question, round(best, 3)))
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:limit]
