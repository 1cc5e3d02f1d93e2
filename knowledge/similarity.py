"""Text similarity without a model: character trigram sets, robust to typos, inflection and missing letters."""

from __future__ import annotations

import re
import unicodedata

_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalize(text: str) -> str:
    """Lower case, Azerbaijani letters folded to plain Latin (ə→e, ı→i...), punctuation to spaces."""
    text = text.lower().replace("ə", "e").replace("ı", "i")
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return " ".join(_NON_WORD.sub(" ", text).split())


def trigrams(text: str) -> frozenset[str]:
    padded = f"  {normalize(text)}  "
    return frozenset(padded[i : i + 3] for i in range(len(padded) - 2))


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    """Dice coefficient of two trigram sets (0..1)."""
    if not a or not b:
        return 0.0
    return 2 * len(a & b) / (len(a) + len(b))
