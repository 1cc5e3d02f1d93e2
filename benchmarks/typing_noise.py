"""The development set as people type it on a phone: a robustness split that needs no new writing.

Every development example gets one noisy twin, the same for every run (seeded by the text):
- lowercased, with the final punctuation dropped;
- Azerbaijani typed without its letters, as on a Russian or English keyboard ("yaşayış icazəsi" becomes
  "yasayis icazesi" or "yashayish icazesi");
- about one word in eight (words of four letters or more, never one with a digit: application numbers and
  dates stay exact) with a slip of the finger: a letter dropped, doubled or swapped with the next.

The dev set and the held-out set are written carefully; real messages are not. Choices made on the dev set
alone could not see a change that only helps with messages like these.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import replace

from benchmarks.heldout import Example

_AZ_PLAIN = str.maketrans(
    {
        "ə": "e",
        "Ə": "E",
        "ı": "i",
        "İ": "I",
        "ş": "s",
        "Ş": "S",
        "ç": "c",
        "Ç": "C",
        "ğ": "g",
        "Ğ": "G",
        "ö": "o",
        "Ö": "O",
        "ü": "u",
        "Ü": "U",
    }
)
_AZ_DIGRAPHS = str.maketrans({"ş": "sh", "Ş": "Sh", "ç": "ch", "Ç": "Ch"})
_WORD = re.compile(r"\w+")


def _slip(word: str, rng: random.Random) -> str:
    i = rng.randrange(1, len(word) - 1)  # keep the first and last letters, as most slips do
    kind = rng.choice(("drop", "double", "swap"))
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def noisy(example: Example, slip_rate: float = 0.125) -> Example:
    rng = random.Random(hashlib.sha256(f"{example.language}:{example.text}".encode()).digest())
    text = example.text.lower().rstrip(" .?!")
    if example.language == "az":
        text = text.translate(_AZ_DIGRAPHS if rng.random() < 0.3 else _AZ_PLAIN).translate(_AZ_PLAIN)

    def maybe_slip(match: re.Match[str]) -> str:
        word = match.group(0)
        if len(word) < 4 or any(c.isdigit() for c in word) or rng.random() >= slip_rate:
            return word
        return _slip(word, rng)

    return replace(example, text=_WORD.sub(maybe_slip, text))


def noisy_set(examples: list[Example]) -> list[Example]:
    return [noisy(e) for e in examples]
