"""Folding text before it is featurized: the same question typed with or without Azerbaijani letters.

People often type Azerbaijani on keyboards without its letters ("yasayis icazesi" for "yaşayış icazəsi"), and
Python lowercases the capital dotted İ into two characters ("i" plus a combining dot), so "İcazə" at the
start of a sentence shared no character n-gram with "icazə" in the middle of one. Folding maps each of these
letters to the plain Latin letter people type instead, one character for one (token offsets stay valid),
and lowercases. Russian "ё" is folded to "е" for the same reason.
"""

from __future__ import annotations

import unicodedata

_FOLD = str.maketrans(
    {
        "ə": "e",
        "Ə": "e",
        "ı": "i",
        "I": "i",
        "İ": "i",
        "ş": "s",
        "Ş": "s",
        "ç": "c",
        "Ç": "c",
        "ğ": "g",
        "Ğ": "g",
        "ö": "o",
        "Ö": "o",
        "ü": "u",
        "Ü": "u",
        "ё": "е",
        "Ё": "е",
    }
)


def fold(text: str) -> str:
    """Lowercased, with Azerbaijani letters and "ё" folded to the letters typed without them."""
    return unicodedata.normalize("NFC", text).translate(_FOLD).lower()
